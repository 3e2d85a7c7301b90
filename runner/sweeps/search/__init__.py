"""A search (``hydra/sweeper=optuna``): the space it proposes from, the study it keeps, the
loop that asks Optuna for trials and runs them as jobs, the channel by which a job reports its
progress back for pruning, and what the search found."""
