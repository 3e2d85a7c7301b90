"""runner: the Hydra application that builds nncore networks from configs, trains, and logs to CSV."""
