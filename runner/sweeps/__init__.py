"""Running many jobs: the sweep's set-up, its launcher and composition cache, its summary."""

GRID_SWEEPERS = ("BasicSweeper", "GridSweeper")  # Hydra's and ours: every job of a grid, no search


def is_search(sweeper_config):
    """Whether ``hydra.sweeper`` proposes jobs from results (Optuna) rather than a fixed grid."""
    target = str(sweeper_config.get("_target_", ""))
    return not target.endswith(tuple("." + name for name in GRID_SWEEPERS))
