"""A run's pictures, drawn by the run and, later, from its files by ``python -m runner.plot``.

Sweep jobs draw no PNGs by default (``trainer.plots=auto``): drawing costs more than training a
small network. Everything needed is in the run folder: ``metrics.csv`` for the curves, the
summary's message for the epoch whose parameters were kept, and for the decision boundary or the
fit the job's ``.hydra/`` config (data and model rebuilt from its seed, exactly as in training)
and ``params.npz``. Both draw through ``draw_pictures``, so a picture drawn later is the one the
run drew.

- ``curves.png``: loss, and beside it the task's score (accuracy; RMSE for regression), train and
  validation, against epoch; a dotted line at the kept epoch when early stopping or
  ``trainer.keep=best`` put an earlier epoch's parameters back.
- ``boundary.png`` (2 inputs, classification) and ``fit.png`` (1 input, regression): in the
  features' own names and units, the standardisation of ``preprocessing.json`` undone.
"""

import argparse
import sys
from pathlib import Path

from runner.pictures import PICTURES, draw_pictures, kept_epoch


class NotDrawable(Exception):
    """The folder lacks what a picture needs; the message says what."""


def pictures(run_dir):
    return [run_dir / name for name in PICTURES if (run_dir / name).is_file()]


def draw(run_dir, out_dir=None, curves=True):
    """Draw the run's pictures into ``out_dir`` (default: the run folder) -> the paths written;
    ``curves=False`` draws only the decision boundary or the fit (the report draws curves
    itself, interactively)."""
    import pandas as pd

    run_dir = Path(run_dir)
    out_dir = Path(out_dir or run_dir)
    metrics = run_dir / "metrics.csv"
    if not metrics.is_file():
        raise NotDrawable(f"{run_dir}: no metrics.csv (not a run folder, or it never trained)")
    rows = pd.read_csv(metrics).to_dict("records")
    model, dataset, title = _rebuilt(run_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    kept = kept_epoch(_summary(run_dir).get("message"))
    return draw_pictures(out_dir, rows, model, dataset, title, kept, curves)


def _rebuilt(run_dir):
    """(trained model or None, dataset or None, title) from the run's .hydra/ and params.npz."""
    from omegaconf import OmegaConf

    from runner.build import dataset_and_model
    from runner.pictures import title as picture_title

    config, hydra = run_dir / ".hydra" / "config.yaml", run_dir / ".hydra" / "hydra.yaml"
    if not (config.is_file() and hydra.is_file()):
        return None, None, ""
    cfg = OmegaConf.load(config)
    runtime = OmegaConf.load(hydra).hydra
    choices = OmegaConf.to_container(runtime.runtime.choices)
    title = picture_title(choices, " ".join(runtime.overrides.task))
    dataset, model = dataset_and_model(cfg, cfg.seed, Path(runtime.runtime.cwd))
    params = run_dir / "params.npz"
    if not params.is_file():
        return None, dataset, title  # a run that did not finish ok: curves only
    model.load(params)
    return model, dataset, title


def _summary(run_dir):
    """The run's summary.csv row as a dict; {} for an older run or one that left none."""
    import pandas as pd

    try:
        return pd.read_csv(run_dir / "summary.csv").iloc[0].to_dict()
    except (OSError, IndexError, ValueError, pd.errors.ParserError):
        return {}


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m runner.plot",
        description="Draw runs' curves.png and boundary.png or fit.png from their folders' "
        "files (sweep jobs draw none unless trainer.plots=true).",
    )
    parser.add_argument("run_dirs", nargs="+", metavar="RUN_DIR", help="a run or job folder")
    parser.add_argument("--out", help="write the pictures here instead of each run folder")
    args = parser.parse_args(argv)
    failed = unusable = 0
    for index, run_dir in enumerate(args.run_dirs):
        out = Path(args.out) / str(index) if args.out and len(args.run_dirs) > 1 else args.out
        try:
            drawn = draw(run_dir, out)
        except NotDrawable as error:
            print(f"error: {error}", file=sys.stderr)
            unusable += 1
            continue
        except Exception as error:  # noqa: BLE001 - one folder's problem, the others still drawn
            print(f"error: {run_dir}: {type(error).__name__}: {error}", file=sys.stderr)
            failed += 1
            continue
        print(f"{run_dir}: wrote " + ", ".join(str(path) for path in drawn))
    return 1 if failed else 2 if unusable else 0  # 2: a folder given that cannot be drawn
