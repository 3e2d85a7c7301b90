"""The flags of ``python -m runner`` that are the runner's own, not Hydra's: taken off the
command line before Hydra parses it (Hydra would refuse them), and described here once for the
help and the generated reference (``docs/_hooks/reference.py``)."""

from dataclasses import dataclass

RESUME = "--resume"
WAIT = "--wait"
TRUST_FOLDER = "--trust-folder"

# flag -> (what follows it, what it does): the reference page's rows
FLAGS = {
    RESUME: (
        "SWEEP_DIR [overrides...]",
        "finish a stopped sweep in place: its command again (from its multirun.yaml) with "
        "`hydra.sweep.dir` pinned to the folder; overrides after it are added. Only overrides "
        "of the runner's own config keys and plugins are replayed; anything else (a "
        "`_target_`, `hydra.callbacks`, another `hydra/...` option) is refused",
    ),
    WAIT: (
        "",
        "when another process is running the same sweep folder, wait until it ends and then "
        "go on, instead of stopping with exit status 2",
    ),
    TRUST_FOLDER: (
        "",
        "with `--resume`: replay the folder's saved overrides whatever they name (a `_target_`, "
        "`hydra.callbacks`, a config folder); only for a sweep folder you made or trust as code",
    ),
}


@dataclass(frozen=True)
class Given:
    """Which of the boolean flags were given."""

    wait: bool = False
    trust_folder: bool = False


def take(args: list[str]) -> tuple[list[str], Given]:
    """Command-line arguments -> (them without ``--wait`` and ``--trust-folder``, which were
    given). An override value that happens to read ``--wait`` stays: only whole words count."""
    given = Given(wait=WAIT in args, trust_folder=TRUST_FOLDER in args)
    return [a for a in args if a not in (WAIT, TRUST_FOLDER)], given
