"""The training loop of one run. Takes a config and an output folder; knows nothing of Hydra."""

import contextlib
import math
import secrets
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from nncore import regression_scores
from runner import pictures
from runner.best_epoch import BestEpoch, keep_mode
from runner.build import dataset_and_model, loss_name
from runner.checks import check_task_metrics, check_trainer, unread_keys
from runner.data import check_data_config
from runner.dataset import REGRESSION
from runner.divergence import DivergenceWatch
from runner.errors import ConfigError, Problems, check_resolvable, os_problem
from runner.interrupts import Interrupted, as_interrupted, deferred, indivisible
from runner.progress import reporter as progress_reporter
from runner.progress import say
from runner.records import (
    GROUPS,
    METRIC_COLUMNS,
    REGRESSION_METRIC_COLUMNS,
    MetricsWriter,
    append_to_ledger,
    flatten,
    write_summary,
)
from runner.run_key import data_fingerprint, run_key
from runner.tables.cache import CACHE_FOLDER
from runner.tables.encoding import PREPROCESSING_FILE, encoding_of

# the logged figures a summary row takes from the kept epoch's row, and from the test split
LOGGED_SCORES = (*METRIC_COLUMNS[1:5], *REGRESSION_METRIC_COLUMNS[2:7])
TEST_SCORES = ("test_loss", "test_accuracy", "test_rmse", "test_mae", "test_r2")


@dataclass
class RunContext:
    """Where a run writes and what it records about how it was started."""

    run_dir: Path
    ledger: Path
    base_dir: Path = field(default_factory=Path.cwd)  # relative data paths start here
    overrides: str = ""
    choices: dict[str, str | None] = field(default_factory=dict)  # config group -> its option
    sweep_dir: str | None = None
    job: int | None = None
    progress: str = "none"  # what to show while training: bar, lines or none
    # set by run(): the run failed on a mistake in its config (the command exits 2, not 1)
    mistake: bool = False
    # called with (epoch, metrics row) at each logged epoch; a text it returns stops the run
    # as ``pruned`` with that text as its message (a search's pruner: runner.sweeps.search)
    on_log: Callable[[int, dict], str | None] | None = None


@dataclass
class Progress:
    """What has been logged so far; survives an exception halfway through training."""

    rows: list = field(default_factory=list)
    best_val_loss: float = math.nan
    best_val_accuracy: float = math.nan
    n_parameters: int | None = None
    task: str | None = None  # classification or regression, once the data is loaded
    loss: str | None = None  # the loss trained with (the default one follows the task)
    resolved: dict | None = None  # the config resolved once, for the summary row
    best_epoch: int | None = None
    kept: dict | None = None  # the logged row of the parameters kept, when not the last
    test: dict = field(default_factory=dict)  # test_loss, test_accuracy of the kept parameters

    @property
    def last(self):
        return self.rows[-1] if self.rows else {}

    def record(self, row):
        self.rows.append(row)
        if _finite(row.get("val_loss")):
            self.best_val_loss = min(row["val_loss"], self.best_val_loss, key=_nan_last)
        if _finite(row.get("val_accuracy")):
            self.best_val_accuracy = max(
                row["val_accuracy"], self.best_val_accuracy, key=_nan_first
            )


def run(cfg, ctx, resolved=None):
    """Train (or, with trainer.epochs=0, only evaluate) and record the run whatever happens.

    Returns the summary row (also written to ``summary.csv`` and appended to the ledger).
    A stop signal (Ctrl-C, SIGTERM, SIGHUP) is recorded as ``interrupted`` and then re-raised
    as :class:`runner.interrupts.Interrupted`; a record that cannot be written (full disk,
    read-only folder) raises :class:`RecordError` once everything else has been tried.
    """
    started = datetime.now()
    clock = time.perf_counter()
    run_dir = Path(ctx.run_dir)
    progress = Progress()
    status, message, interrupted, metrics, claimed = "failed", "", None, None, False
    try:
        claimed = _claim(run_dir)
        with indivisible():  # metrics.csv is never seen without its header
            metrics = MetricsWriter(run_dir / "metrics.csv")
        with np.errstate(all="ignore"):  # a diverging run is reported by status, not warnings
            status, message = _train(cfg, run_dir, ctx, metrics, progress, clock, resolved)
    except ConfigError as error:
        message, ctx.mistake = str(error), True
    except KeyboardInterrupt as error:  # Ctrl-C, SIGTERM, SIGHUP: see runner.interrupts
        interrupted = as_interrupted(error)
        status, message = "interrupted", interrupted.reason
    except OSError as error:  # the disk, not the code: no traceback to keep
        message = f"could not write the run's files: {os_problem(error)}"
    except MemoryError as error:  # a config too big for this machine, not a bug
        message = (
            f"out of memory ({error or 'MemoryError'}); a smaller data.samples, model.width or "
            "trainer.batch_size needs less"
        )
    except Exception as error:  # a bug, not a user's mistake: keep the traceback next to the run
        message = f"{type(error).__name__}: {error} (traceback in {run_dir / 'error.log'})"
        (run_dir / "error.log").write_text(traceback.format_exc())
    finally:
        with deferred() as held:
            problems = _close(metrics)
            row = _summary_row(
                cfg, ctx, started, time.perf_counter() - clock, status, message, progress
            )
            problems += _record(row, ctx, write_summary_file=claimed)
    if problems:
        first = [message] if status == "failed" and message else []  # what stopped the run
        raise RecordError("; ".join(first + problems) + f" (run folder: {run_dir})")
    if interrupted or held.pending:
        raise interrupted or Interrupted(held.pending)
    return row


def record_without_training(cfg, ctx, status, message):
    """Record a job that never trained (e.g. a sweep stopped before it started) -> its row."""
    Path(ctx.run_dir).mkdir(parents=True, exist_ok=True)
    row = _summary_row(cfg, ctx, datetime.now(), 0.0, status, message, Progress())
    with deferred():
        problems = _record(row, ctx, write_summary_file=True)
    if problems:
        raise RecordError("; ".join(problems))
    return row


class RecordError(Exception):
    """The run's summary or ledger row could not be written (full disk, read-only folder)."""


RUN_FILES = ("metrics.csv", "summary.csv", "params.npz")
# What an attempt leaves in its folder besides .hydra/ and job.log (which the next one rewrites
# and appends to): moved aside when a resumed sweep runs the job again in the same folder.
ATTEMPT_FILES = RUN_FILES + ("curves.png", "boundary.png", "fit.png", "error.log")


def _claim(run_dir):
    """Make ``run_dir`` this run's folder; one that already holds a run is never written over."""
    run_dir.mkdir(parents=True, exist_ok=True)
    existing = [name for name in RUN_FILES if (run_dir / name).exists()]
    if existing:
        raise ConfigError(
            "hydra.run.dir",
            run_dir,
            f"already holds a run ({', '.join(existing)}); its files are kept, choose a new folder",
        )
    return True


@contextlib.contextmanager
def writing(path):
    """An OSError within names ``path`` when it names no file (a flush does not), so the
    message says which file could not be written."""
    try:
        yield
    except OSError as error:
        if not error.filename:
            error.filename = str(path)
        raise


def _close(metrics):
    try:
        if metrics is not None:
            metrics.close()
    except OSError as error:
        return [f"metrics.csv was not completely written: {os_problem(error, metrics.path)}"]
    return []


def _record(row, ctx, write_summary_file):
    """Write summary.csv and the ledger row; -> the problems met (each tried regardless)."""
    problems = []
    if write_summary_file:
        try:
            write_summary(ctx.run_dir, row)
        except OSError as error:
            where = Path(ctx.run_dir) / "summary.csv"
            problems.append(f"summary.csv not written: {os_problem(error, where)}")
    try:
        append_to_ledger(ctx.ledger, row)
    except OSError as error:
        problem = f"no row in the ledger: {os_problem(error, ctx.ledger)}"
        problems.append(problem)
        if write_summary_file:  # the run's own row then says so too: a sweep counts it failed
            with contextlib.suppress(OSError):
                write_summary(ctx.run_dir, {**row, "status": "failed", "message": problem})
    return problems


def _train(cfg, run_dir, ctx, metrics, progress, clock, resolved=None):
    progress.resolved = resolved if resolved is not None else check_resolvable(cfg)
    problems = Problems()
    with problems.check():
        trainer = check_trainer(cfg)
    with problems.check():
        check_data_config(cfg.data, ctx.base_dir)
    problems.raise_any()
    for note in unread_keys(cfg):
        say(f"warning: {note}", file=sys.stderr)
    cache = Path(ctx.sweep_dir) / CACHE_FOLDER if ctx.sweep_dir else None
    dataset, model = dataset_and_model(cfg, trainer["seed"], ctx.base_dir, cache)
    with writing(run_dir / PREPROCESSING_FILE):
        encoding_of(dataset).save(run_dir / PREPROCESSING_FILE)
    for note in dataset.notes:  # hints, and warnings that say so themselves
        say(note if note.startswith("warning: ") else f"note: {note}", file=sys.stderr)
    progress.n_parameters, progress.task = model.n_parameters, dataset.task
    check_task_metrics(cfg, dataset.task)
    progress.loss = loss_name(cfg, dataset.task)
    if progress.loss != cfg.loss.get("name"):
        classes = ", or data.task=classification for classes" if "task" in cfg.data else ""
        say(
            f"note: loss={progress.loss} in place of the default loss={cfg.loss.name}: the target "
            f"is continuous (a regression); choose with loss=mse or loss=mae{classes}",
            file=sys.stderr,
        )
    X, y = model.prepare(dataset.X_train, dataset.y_train)
    X_val, y_val = model.prepare(dataset.X_val, dataset.y_val)
    batch_size, epochs = trainer["batch_size"], trainer["epochs"]
    show = progress_reporter(ctx.progress, epochs)

    regression = dataset.task == REGRESSION
    with indivisible():
        metrics.use_columns(REGRESSION_METRIC_COLUMNS if regression else METRIC_COLUMNS)

    def log(epoch, train):
        val = model.evaluate(X_val, y_val, batch_size=batch_size)
        if regression:
            scores = {"train_rmse": _scores(model, X, y, batch_size)["rmse"]}
            scores |= {f"val_{k}": v for k, v in _scores(model, X_val, y_val, batch_size).items()}
        else:
            accuracy = train["accuracy"]
            if math.isnan(accuracy):  # an epoch that was not going to be logged: divergence
                accuracy = model.evaluate(X, y, batch_size=batch_size)["accuracy"]
            scores = {"train_accuracy": accuracy, "val_accuracy": val["accuracy"]}
        row = {
            "epoch": epoch,
            "train_loss": train["data_loss"],
            "val_loss": val["data_loss"],
            **scores,
            "regularization_loss": train["regularization_loss"],
            "learning_rate": model.optimizer.current_learning_rate,
            "seconds": time.perf_counter() - clock,
        }
        with indivisible(), writing(metrics.path):  # no signal between written and counted
            metrics.write(row)
            progress.record(row)
        show.logged(row)
        return row

    lr = model.optimizer.learning_rate
    watch = DivergenceWatch(
        progress.loss,
        model.parameters(),
        hint=f"lower optimizer.learning_rate (now {lr:g}) or add regularization",
    )
    stopping = trainer["early_stopping"]
    best = BestEpoch(
        model.parameters(),
        stopping["monitor"],
        stopping["min_delta"],
        stopping["patience"],
        keep_mode(trainer),
    )
    sign = pruned = early = None
    try:
        first = log(0, model.evaluate(X, y, batch_size=batch_size))
        best.logged(first)
        watch.start(first["train_loss"])
        for epoch in range(1, epochs + 1):
            logged = epoch % trainer["log_every"] == 0 or epoch == epochs
            train = model.train_epoch(
                X,
                y,
                batch_size=batch_size,
                shuffle=trainer["shuffle"],
                accuracy=logged and not regression,  # regression scores its logged epochs
            )
            show.epoch(epoch, train)
            found = None if sign else watch.epoch(epoch, train["loss"], train["data_loss"])
            if logged or found:
                row = log(epoch, train)
                if not (sign or found):
                    early = best.logged(row)
                if ctx.on_log is not None and not (sign or found or early) and epoch < epochs:
                    pruned = ctx.on_log(epoch, row)
            sign = sign or found
            if early or pruned or (sign and (sign.fatal or trainer["stop_on_divergence"])):
                break
        if epochs and not sign:
            last = progress.last
            sign = watch.check_parameters(last["epoch"]) or watch.end(
                last["epoch"], last["train_loss"]
            )
    finally:
        show.close()
    status, message = ("diverged", sign.reason) if sign else ("ok", early or "")
    if pruned and not sign:
        status, message = "pruned", pruned
    progress.best_epoch = best.best_epoch
    if status == "ok":
        message = _keep_best(best, progress, message)
        progress.test = evaluate_test(model, dataset, batch_size)
        with writing(run_dir / "params.npz"):
            model.save(run_dir / "params.npz")
    if trainer["plots"] is True or (trainer["plots"] == "auto" and ctx.sweep_dir is None):
        draw_run_plots(
            run_dir,
            progress.rows,
            model if status == "ok" else None,
            dataset,
            _title(ctx),
            progress.kept["epoch"] if progress.kept else None,  # marked only when restored
        )
    return status, message


def _keep_best(best, progress, message):
    """Put the best epoch's parameters back when they are kept -> the run's message."""
    kept = best.restore()
    if kept is None or kept is progress.last or kept["epoch"] == progress.last.get("epoch"):
        return message
    progress.kept = kept
    note = (
        f"kept the parameters of epoch {kept['epoch']}, the best {best.monitor} "
        f"({best.best_value:.4g}; trainer.keep=best)"
    )
    return f"{message}; {note}" if message else note


def evaluate_test(model, dataset, batch_size=None):
    """test_loss and test_accuracy (regression: test_rmse, test_mae, test_r2) of the model's
    current parameters; {} without a test split."""
    if dataset.X_test is None or not len(dataset.X_test):
        return {}
    X_test, y_test = model.prepare(dataset.X_test, dataset.y_test)
    scores = model.evaluate(X_test, y_test, batch_size=batch_size)
    if dataset.task == REGRESSION:
        found = _scores(model, X_test, y_test, batch_size)
        return {"test_loss": scores["data_loss"], **{f"test_{k}": v for k, v in found.items()}}
    return {"test_loss": scores["data_loss"], "test_accuracy": scores["accuracy"]}


def _scores(model, X, y, batch_size):
    """RMSE, MAE and R² of the model's predictions: a regression run's accuracy."""
    return regression_scores(model.predict(X, batch_size=batch_size), y)


def _title(ctx):
    return pictures.title(ctx.choices, ctx.overrides)


def draw_run_plots(run_dir, rows, model, dataset, title="", kept_epoch=None, curves=True):
    """curves.png (unless ``curves=False``); boundary.png (2-D classification) or fit.png (1-D
    regression) for a trained model, as ``runner.plot`` draws them later. A plotting problem is
    reported and never costs the run its records."""
    try:
        pictures.draw_pictures(run_dir, rows, model, dataset, title, kept_epoch, curves)
    except Exception as error:  # noqa: BLE001 - a picture is never worth losing a run over
        print(f"warning: plots not drawn: {type(error).__name__}: {error}", file=sys.stderr)


def _summary_row(cfg, ctx, started, seconds, status, message, progress):
    last = progress.last
    kept = progress.kept or last
    scalars = _resolved_scalars(cfg, progress.resolved)
    fingerprint = data_fingerprint(scalars, ctx.base_dir)
    key = run_key(scalars, fingerprint)
    choices = {group: ctx.choices.get(group) for group in GROUPS}
    if progress.task:  # what data.task=auto (or the generated data) made of this run
        scalars = {**scalars, "data.task": progress.task}
    if progress.loss and progress.loss != scalars.get("loss.name"):
        scalars, choices = (
            {**scalars, "loss.name": progress.loss},
            {**choices, "loss": progress.loss},
        )
    return {
        "run_id": f"{started:%Y%m%d-%H%M%S-%f}-{secrets.token_hex(2)}",
        "run_key": key,
        "status": status,
        "message": message,
        "started_at": started.isoformat(timespec="milliseconds"),
        "seconds": round(seconds, 4),
        "run_dir": str(ctx.run_dir),
        "overrides": ctx.overrides,
        "sweep_dir": ctx.sweep_dir,
        "job": ctx.job,
        "trial": scalars.get("runner.trial"),
        **choices,
        "epochs_done": last.get("epoch"),
        "best_epoch": progress.best_epoch,
        **{key: kept.get(key) for key in LOGGED_SCORES},
        **{key: progress.test.get(key) for key in TEST_SCORES},
        "best_val_loss": progress.best_val_loss,
        "best_val_accuracy": progress.best_val_accuracy,
        "n_parameters": progress.n_parameters,
        "data_sha256": fingerprint.removeprefix("sha256:") if fingerprint else None,
        **scalars,
    }


def _resolved_scalars(cfg, resolved=None):
    """Every scalar of the config, resolved where possible (a broken interpolation stays as text)."""
    if resolved is not None:
        return flatten(resolved)
    try:
        return flatten(OmegaConf.to_container(cfg, resolve=True))
    except Exception:
        return flatten(OmegaConf.to_container(cfg, resolve=False))


def objective(row, name):
    """The run's value of the objective ``name``, or a list of values for a list of names (a
    multi-objective search); NaN where the run has none."""
    if not isinstance(name, str):
        return [objective(row, one) for one in name]
    value = row.get(name)
    return float(value) if _finite(value) else math.nan


def _finite(value):
    return isinstance(value, (int, float)) and math.isfinite(value)


def _nan_last(value):
    return math.inf if math.isnan(value) else value


def _nan_first(value):
    return -math.inf if math.isnan(value) else value
