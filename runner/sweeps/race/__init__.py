"""Racing (``hydra/sweeper=race``): every configuration of a grid runs a few seeds, a paired
test across seeds drops those worse than the best, and the seeds saved go to the survivors."""
