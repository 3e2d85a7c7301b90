"""``runner.resume`` and ``runner.dry_run`` for a single run, checked before Hydra makes its
folder. A single run is run whatever the ledger says unless ``runner.resume`` is given on the
command line: a user running one experiment usually wants it run."""

import sys

from omegaconf import OmegaConf

from runner.checks import check_runner
from runner.progress import say


def before(config):
    """Exit here (nothing written) when the run is a dry run, or was asked to resume and is
    done already; otherwise return and let it run."""
    settings = check_runner(config)
    typed = OmegaConf.to_container(config.hydra.overrides.task, resolve=False)  # ${...} as typed
    asked = any(o.lstrip("+~").split("=", 1)[0] == "runner.resume" for o in typed)
    mode = settings["resume"] if asked else "never"
    if not settings["dry_run"] and mode == "never":
        return
    from runner.job import relative
    from runner.sweeps import reuse
    from runner.sweeps.prepare import ledger_path
    from runner.sweeps.reuse import key_of_job

    ledger = ledger_path(config)
    key = key_of_job(config)
    known = reuse.read_ledger(ledger, settings["dry_run"])[0] if mode != "never" and key else None
    earlier = reuse.earlier_run(key, mode, ledger, known) if known is not None else None
    done = f"{earlier['status']} in {relative(earlier['run_dir'])}" if earlier else ""
    if settings["dry_run"]:
        verdict = f"would be skipped: run_key {key} is {done}" if earlier else "would run"
        say(f"dry run (runner.resume={mode}): this run {verdict}; nothing was run or written")
        sys.exit(0)
    if earlier is not None:
        say(
            f"run_key {key} is {done} (runner.resume={mode}); not run again "
            "(runner.resume=never runs it anyway)"
        )
        sys.exit(0 if earlier["status"] == "ok" else 1)
