"""A preset that declares a sweep runs it without -m, the mode said on the command line (the
only place besides the primary config where Hydra 1.4 takes it)."""

from pathlib import Path

from runner.presets import with_declared_mode

CONF = Path(__file__).resolve().parents[1] / "conf"


def test_a_sweep_preset_adds_the_mode_and_nothing_else_does():
    search = ["hparams_search=spiral_optuna", "trainer.epochs=5"]
    assert with_declared_mode(search, CONF) == [*search, "hydra.mode=MULTIRUN"]
    assert with_declared_mode(["experiment=spiral_width_sweep"], CONF)[-1] == "hydra.mode=MULTIRUN"
    for args in (
        ["experiment=spiral_adam"],  # a preset that declares no sweep
        ["-m", "hparams_search=spiral_optuna"],  # the mode typed already
        ["hparams_search=spiral_optuna", "hydra.mode=RUN"],  # one run of the search's config
        ["experiment=no_such_preset"],  # Hydra names the typo
        ["seed=1"],
    ):
        assert with_declared_mode(args, CONF) == args
