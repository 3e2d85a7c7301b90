"""nnrunner's Hydra plugins: the pool launcher, the grid sweeper and the Optuna sweeper.

Hydra imports every module here at start-up, so these modules only define the thin classes
it discovers and their configs; the work is in ``runner.sweeps``, imported when a sweep runs.
"""
