"""A run's pictures drawn from its files, whenever they are wanted.

Sweep jobs draw no PNGs by default (``trainer.plots=auto``): drawing costs more than training a
small network. Everything needed is in the run folder: ``metrics.csv`` for the curves, and for
the decision boundary or the fit the job's ``.hydra/`` config (data and model rebuilt from its
seed, exactly as in training) and ``params.npz``.
"""

import argparse
import sys
from pathlib import Path

PICTURES = ("boundary.png", "fit.png", "curves.png")


class NotDrawable(Exception):
    """The folder lacks what a picture needs; the message says what."""


def pictures(run_dir):
    return [run_dir / name for name in PICTURES if (run_dir / name).is_file()]


def draw(run_dir, out_dir=None, curves=True):
    """Draw the run's pictures into ``out_dir`` (default: the run folder) -> their paths;
    ``curves=False`` draws only the decision boundary or the fit (the report draws curves
    itself, interactively)."""
    import pandas as pd
    from omegaconf import OmegaConf

    from runner import train

    run_dir = Path(run_dir)
    out_dir = Path(out_dir or run_dir)
    metrics, config, hydra = (run_dir / "metrics.csv", *_hydra_files(run_dir))
    if not metrics.is_file():
        raise NotDrawable(f"{run_dir}: no metrics.csv (not a run folder, or it never trained)")
    rows = pd.read_csv(metrics).to_dict("records")
    model = dataset = None
    title = ""
    if config.is_file() and hydra.is_file():
        cfg = OmegaConf.load(config)
        runtime = OmegaConf.load(hydra).hydra
        choices = OmegaConf.to_container(runtime.runtime.choices)
        title = train.title(choices, " ".join(runtime.overrides.task))
        dataset, model = train.dataset_and_model(cfg, cfg.seed, Path(runtime.runtime.cwd))
        params = run_dir / "params.npz"
        if params.is_file():
            model.load(params)
        else:
            model = None  # a run that did not finish ok: curves only
    out_dir.mkdir(parents=True, exist_ok=True)
    train.draw_run_plots(out_dir, rows, model, dataset, title, _best_epoch(run_dir), curves)
    return pictures(out_dir)


def _best_epoch(run_dir):
    """The run's best_epoch from its summary.csv, or None (an older run, or none recorded)."""
    import pandas as pd

    try:
        value = pd.read_csv(run_dir / "summary.csv")["best_epoch"].iloc[0]
    except (OSError, KeyError, IndexError, ValueError, pd.errors.ParserError):
        return None
    return None if pd.isna(value) else int(value)


def _hydra_files(run_dir):
    return run_dir / ".hydra" / "config.yaml", run_dir / ".hydra" / "hydra.yaml"


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m runner.plot",
        description="Draw runs' curves.png and boundary.png or fit.png from their folders' "
        "files (sweep jobs draw none unless trainer.plots=true).",
    )
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="a run or job folder")
    parser.add_argument("--out", help="write the pictures here instead of each run folder")
    args = parser.parse_args(argv)
    failed = 0
    for index, run_dir in enumerate(args.run_dirs):
        out = Path(args.out) / str(index) if args.out and len(args.run_dirs) > 1 else args.out
        try:
            drawn = draw(run_dir, out)
        except NotDrawable as error:
            print(f"error: {error}", file=sys.stderr)
            failed += 1
            continue
        except Exception as error:  # noqa: BLE001 - one folder's problem, the others still drawn
            print(f"error: {run_dir}: {type(error).__name__}: {error}", file=sys.stderr)
            failed += 1
            continue
        print(f"{run_dir}: " + ", ".join(path.name for path in drawn))
    return 1 if failed else 0
