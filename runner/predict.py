"""``python -m runner.predict RUN new.csv --out predictions.csv``: a trained run's predictions
for new rows, encoded exactly as its training rows were (its ``preprocessing.json``).

RUN is a run folder (from any launcher), a run_id or run_key from the ledger, or ``best`` with
``--from SWEEP`` (the sweep's best ok run on its objective; of a race's folder, the best run of
its winner, or of the configurations still tied). Output row i is the prediction for
input row i: ``predicted_<target>``, the label as the training file wrote it (or the value, for
regression), and one ``proba_<label>`` column per class (``--no-proba`` leaves them out).
"""

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path

import numpy as np

from runner.tables.encoding import (
    CATEGORICAL,
    CLASSIFICATION,
    PREPROCESSING_FILE,
    Encoding,
    Tally,
    table_from_frame,
)
from runner.tables.header import repeated_name

CHUNK_ROWS = 200_000  # rows encoded and predicted at a time: memory stays flat for any file
BAR_ROWS = 1_000_000  # files with more rows than this get a progress bar (in a terminal)


class PredictError(Exception):
    """A user's mistake or an unusable run; reported as one line."""


def main(argv=None):
    args = _parse_args(argv)
    try:
        run_dir = resolve_run(args.run, args.sources)
        predictor = Predictor.load(run_dir)
        tally = Tally()
        written = predictor.predict_file(
            Path(args.csv),
            args.out,
            proba=args.proba,
            unknown=args.unknown,
            keep=args.keep,
            sep=args.sep,
            tally=tally,
        )
    except PredictError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2  # a usage error: the run, the file or an option (docs/reference/exit-codes.md)
    except OSError as error:  # a full disk, a folder without permission: not a bug
        from runner.errors import EXIT_FAILED, os_problem

        print(f"error: {os_problem(error)}", file=sys.stderr)
        return EXIT_FAILED
    for line in tally_notes(tally, written, predictor.encoding):
        print(f"note: {line}", file=sys.stderr)
    if args.out:
        print(f"{written} predictions from {_shown(run_dir)} -> {args.out}", file=sys.stderr)
    return 0


def _parse_args(argv):
    parser = argparse.ArgumentParser(
        prog="python -m runner.predict",
        description="Predict new rows of a CSV with a trained run: the same preprocessing, "
        "labels as the training file had them, class probabilities.",
    )
    parser.add_argument(
        "run",
        metavar="RUN",
        help="a run folder, a run_id or run_key from the ledger, or 'best' (with --from)",
    )
    parser.add_argument(
        "csv", metavar="NEW_CSV", nargs="?", help="rows to predict; needs the feature columns"
    )
    parser.add_argument("--out", help="write the predictions here (atomically); default: stdout")
    parser.add_argument(
        "--from",
        dest="sources",
        nargs="+",
        default=None,
        metavar="SOURCE",
        help="where RUN is looked up: sweep folders, runs.csv ledgers (default outputs/runs.csv)",
    )
    parser.add_argument(
        "--proba",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="one proba_<label> column per class (classification; default: on)",
    )
    parser.add_argument(
        "--unknown",
        choices=("error", "ignore"),
        default="ignore",
        help="a category the training rows did not have: ignore (default: encoded as unknown, "
        "all zeros, and counted), or error",
    )
    parser.add_argument(
        "--sep",
        default=None,
        help="the character between fields of NEW_CSV (auto, ';', tab, ...); default: the "
        "run's data.sep (auto: detected again from the file's first lines)",
    )
    parser.add_argument(
        "--keep",
        nargs="+",
        default=[],
        metavar="COLUMN",
        help="copy these input columns (an id, say) into the output, in front",
    )
    args = parser.parse_args(argv)
    if args.csv is None and args.sources and len(args.sources) > 1:
        args.csv = args.sources.pop()  # RUN --from SWEEP NEW_CSV: --from took the file too
    if args.csv is None:
        parser.error("the following arguments are required: NEW_CSV")
    return args


def resolve_run(ref, sources=None):
    """RUN as typed -> the run folder. A folder is taken as it is; anything else is looked up."""
    path = Path(ref).expanduser()
    if path.is_dir() and ref != "best":
        return path
    from runner.analysis.runs import DEFAULT_LEDGER, CompareError, load_runs

    if not sources and not Path(DEFAULT_LEDGER).is_file():
        raise PredictError(
            f"{ref}: no such run folder, and no ledger at {DEFAULT_LEDGER} to look it up in; "
            "pass a run folder, or --from SWEEP_DIR (or a runs.csv)"
        )
    try:
        runs = load_runs(sources)
    except CompareError as error:
        raise PredictError(str(error)) from None
    if ref == "best":
        row = best_run(runs, sources)
    else:
        matches = runs[(runs.get("run_id") == ref) | (runs.get("run_key") == ref)]
        if not len(matches):
            raise PredictError(
                f"{ref}: no run folder, and no run_id or run_key of that name in "
                f"{', '.join(sources or ['outputs/runs.csv'])}"
            )
        ok = matches[matches["status"] == "ok"]
        row = (ok if len(ok) else matches).iloc[-1]
    return Path(row["run_dir"])


def best_run(runs, sources):
    """The ok run with the best value of the runs' objective, in its direction: the rule
    ``runner.compare`` ranks by (``grouping.default_metric``), so both name the same run."""
    import pandas as pd

    from runner.analysis import grouping
    from runner.metric_names import higher_is_better

    if not sources:
        raise PredictError("best: say whose best with --from SWEEP_DIR (or a ledger)")
    ok = runs[runs["status"] == "ok"]
    if not len(ok):
        raise PredictError(f"best: no ok run in {', '.join(sources)}")
    sections = grouping.sections(ok)
    if len(sections) > 1:
        shown = "; ".join(title for title, _ in sections)
        raise PredictError(
            f"best: the runs in {', '.join(sources)} are on different data, tasks or "
            f"objectives ({shown}); pass one sweep's folder, or pick one run by folder, run_id "
            "or run_key"
        )
    metric = grouping.default_metric(ok)
    if metric is None:
        raise PredictError(f"best: the ok runs in {', '.join(sources)} have no metric values")
    ok, whose = _race_leaders(ok, sources, higher_is_better(metric))
    values = pd.to_numeric(ok[metric], errors="coerce")
    index = values.idxmax() if higher_is_better(metric) else values.idxmin()
    row = ok.loc[index]
    print(f"best of {len(ok)} ok runs{whose} on {metric}: {row['run_dir']}", file=sys.stderr)
    return row


def _race_leaders(ok, sources, higher):
    """A race's folder: only the runs of the configurations it did not eliminate (its winner,
    or those still tied) can be best, so an eliminated configuration's lucky seed is never
    picked -> (those runs, how the line names them). Anything else: every ok run, ""."""
    from runner.analysis import race_view

    folders = race_view.folders(sources)
    if len(sources) != 1 or len(folders) != 1:
        return ok, ""
    try:
        race = race_view.read(folders[0], higher)
    except race_view.RaceFileError as error:
        print(f"best: the race is not used: {error}; every ok run counts", file=sys.stderr)
        return ok, ""
    leading = race_view.leaders(race)
    mine = ok[race_view.runs_of(leading["configuration"], ok)]
    if not len(mine):
        return ok, ""
    if len(leading) == 1 and leading["status"].iloc[0] == "winner":
        return mine, f" of the race's winner ({leading['configuration'].iloc[0]})"
    return mine, f" of the {len(leading)} configurations the race did not eliminate"


class Predictor:
    """A trained run's model and encoding, ready for new rows."""

    def __init__(self, run_dir, encoding, model):
        self.run_dir, self.encoding, self.model = run_dir, encoding, model

    @classmethod
    def load(cls, run_dir):
        run_dir = Path(run_dir)
        config = run_dir / ".hydra" / "config.yaml"
        if not config.is_file():
            raise PredictError(f"{_shown(run_dir)} is not a run folder (no .hydra/config.yaml)")
        preprocessing = run_dir / PREPROCESSING_FILE
        if not preprocessing.is_file():
            raise PredictError(
                f"{_shown(run_dir)} has no {PREPROCESSING_FILE}: it was made by an older version "
                "that did not save how it encoded its data; run it again to predict with it"
            )
        params = run_dir / "params.npz"
        if not params.is_file():
            raise PredictError(
                f"{_shown(run_dir)} saved no parameters (params.npz): {_status(run_dir)}; only "
                "a run that finished ok can predict"
            )
        if _epochs_done(run_dir) == 0:
            raise PredictError(
                f"{_shown(run_dir)} never trained (trainer.epochs=0, a forward pass only): its "
                "parameters are the untrained initialisation"
            )
        try:
            encoding = Encoding.from_json(json.loads(preprocessing.read_text()))
        except (ValueError, KeyError, TypeError) as error:
            raise PredictError(
                f"{preprocessing} is damaged or not a preprocessing file ({_one_line(error)})"
            ) from None
        return cls(run_dir, encoding, _model(config, encoding, params))

    def predict_table(self, table, proba=True, unknown="error", tally=None):
        """Table -> {output column: values} for its rows; ``tally`` counts unseen categories
        and filled cells."""
        where = f"{table.name}: "
        try:
            X = self.encoding.encode(table, unknown, where, consume=True, tally=tally)
        except ValueError as error:
            raise PredictError(str(error)) from None
        outputs = self.model.predict(X.astype(self.model.dtype, copy=False))
        _check_finite(outputs, X, table, self.encoding.inputs)
        target = self.encoding.target
        if self.encoding.task != CLASSIFICATION:
            return {f"predicted_{target}": outputs[:, 0]}
        if outputs.shape[1] == 1:  # one sigmoid output: the probability of the second class
            probabilities = np.column_stack([1 - outputs[:, 0], outputs[:, 0]])
        else:
            probabilities = outputs
        columns = {f"predicted_{target}": self.encoding.labels(np.argmax(probabilities, axis=1))}
        if proba:
            for label, column in zip(self.encoding.classes, probabilities.T, strict=True):
                columns[f"proba_{label}"] = column
        return columns

    def predict_file(
        self, path, out=None, proba=True, unknown="error", keep=(), sep=None, tally=None
    ):
        """Predict every row of the CSV at ``path`` -> rows written (to ``out``, or stdout).
        ``sep``: its separator (default: the run's data.sep; auto detects it)."""
        import pandas as pd

        if not path.is_file():
            raise PredictError(f"{path}: no such file")
        sep = self._separator(path, sep)
        text_columns = {f.name: str for f in self.encoding.features if f.kind == CATEGORICAL}
        try:
            header = pd.read_csv(path, nrows=0, sep=sep).columns.map(str)
        except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as error:
            raise PredictError(f"{path} is not a readable CSV file ({error})") from None
        twice = repeated_name(header, path, sep)
        if twice is not None:
            raise PredictError(
                f"{path}: the column name '{twice}' appears more than once in its header; give "
                "each column a name of its own"
            )
        self._check_columns(path, header, keep, sep)
        wanted = [f.name for f in self.encoding.features] + [c for c in keep if c]
        bar = _bar(path)
        with _output(out) as stream:
            written = 0
            chunks = pd.read_csv(
                path,
                sep=sep,
                usecols=list(dict.fromkeys(wanted)),
                dtype={c: t for c, t in text_columns.items()},
                keep_default_na=True,
                chunksize=CHUNK_ROWS,
            )
            for chunk in _readable(chunks, path):
                if not len(chunk):
                    continue
                table = table_from_frame(chunk, path.name)
                table.offset = written
                columns = {c: chunk[c].to_numpy() for c in keep}
                columns.update(self.predict_table(table, proba, unknown, tally))
                frame = pd.DataFrame(columns)
                frame.to_csv(stream, index=False, header=written == 0, float_format="%.6g")
                written += len(chunk)
                bar.update(len(chunk))
            bar.close()
            if not written:
                raise PredictError(f"{path.name} has a header but no rows: nothing to predict")
        return written

    def _separator(self, path, given):
        from runner.errors import ConfigError
        from runner.tables.separator import resolve_sep, shown

        try:
            sep = resolve_sep(self.encoding.sep if given is None else given, path)
        except ConfigError as error:
            raise PredictError(f"--sep {given}: {error.problem}") from None
        if sep != ",":
            print(f"note: read {path.name} as {shown(sep)}", file=sys.stderr)
        return sep

    def _check_columns(self, path, header, keep, sep):
        """Every feature column (and --keep column) is in the file's ``header``."""
        from runner.tables.separator import CANDIDATES, shown

        missing = [f.name for f in self.encoding.features if f.name not in header]
        missing += [c for c in keep if c not in header and c not in missing]
        if not missing:
            return
        hint = ""
        others = [c for c in CANDIDATES if c != sep and len(header) == 1 and c in header[0]]
        if others:
            hint = f" (one column: is the file {shown(others[0])}? --sep {others[0]!r})"
        raise PredictError(
            f"{path.name} has no column {', '.join(repr(m) for m in missing)}; the model "
            f"takes {', '.join(f.name for f in self.encoding.features)}{hint}"
        )


def _readable(chunks, path):
    """The chunks of a file being read; a line pandas cannot read (bytes that are not UTF-8,
    a row of another width) is a PredictError naming the file."""
    import pandas as pd

    try:
        yield from chunks
    except (UnicodeDecodeError, pd.errors.ParserError, ValueError) as error:
        raise PredictError(f"{path} is not a readable CSV file ({_one_line(error)})") from None


def _check_finite(outputs, X, table, inputs):
    """A row whose prediction is not a number (its values far beyond any the model was trained
    on, so the network overflows) is refused, naming its line and its largest input, rather
    than written as a prediction with empty probabilities."""
    bad = ~np.isfinite(outputs).all(axis=1)
    if not bad.any():
        return
    row = int(np.flatnonzero(bad)[0])
    with np.errstate(invalid="ignore"):
        column = int(np.nanargmax(np.abs(np.nan_to_num(X[row], nan=np.inf))))
    raise PredictError(
        f"{table.name}: the model gives no prediction for {int(bad.sum())} row(s), first on line "
        f"{table.line(row)}: its input '{inputs[column]}' is far beyond the values the model was "
        "trained on (it overflows)"
    )


def tally_notes(tally, rows, encoding):
    """One line on the unseen categories (per column), one on the filled cells; or none."""
    notes = []
    if tally.unknown:
        counts = ", ".join(f"'{column}' in {n}" for column, n in tally.unknown.items())
        notes.append(
            f"categories the training rows did not have, encoded as unknown (all zeros): "
            f"{counts} of {rows} rows"
        )
    if tally.filled_rows:
        notes.append(
            f"filled missing cells in {tally.filled_rows} of {rows} rows (data.missing="
            f"{encoding.missing}: the training rows' means and most frequent values)"
        )
    return notes


def _model(config, encoding, params):
    from omegaconf import OmegaConf

    from runner.build import build_model
    from runner.dataset import Dataset

    cfg = OmegaConf.load(config)
    n_inputs = len(encoding.inputs)
    classification = encoding.task == CLASSIFICATION
    y = np.zeros(0, dtype=np.int64) if classification else np.zeros((0, 1))
    shape = Dataset(
        np.zeros((0, n_inputs)),
        y,
        np.zeros((0, n_inputs)),
        y,
        encoding.task,
        len(encoding.classes),
        encoding.class_names,
    )
    model = build_model(cfg, shape, np.random.SeedSequence(0).spawn(2)[1])
    try:
        model.load(params)
    except ValueError as error:
        raise PredictError(str(error)) from None
    return model


def _one_line(error):
    return " ".join(str(error).split()) or type(error).__name__


def _summary(run_dir):
    import pandas as pd

    try:
        return pd.read_csv(run_dir / "summary.csv").iloc[0]
    except (OSError, IndexError, pd.errors.ParserError, pd.errors.EmptyDataError):
        return None


def _status(run_dir):
    row = _summary(run_dir)
    if row is None:
        return "it left no summary.csv"
    message = row.get("message")
    return f"its status is {row['status']}" + (f" ({message})" if isinstance(message, str) else "")


def _epochs_done(run_dir):
    row = _summary(run_dir)
    return None if row is None else row.get("epochs_done")


def _shown(path):
    from runner.job import relative

    return relative(path)


def _bar(path):
    from tqdm import tqdm

    size = path.stat().st_size
    rows_guess = size // 100 or 1
    show = sys.stderr.isatty() and rows_guess > BAR_ROWS // 10
    return tqdm(total=None, unit=" rows", disable=not show, file=sys.stderr, leave=False)


@contextlib.contextmanager
def _output(out):
    """stdout, or a temporary file renamed to ``out`` only once every row is written."""
    if not out:
        yield sys.stdout
        return
    out = Path(out)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "w", newline="") as stream:
            yield stream
        os.replace(tmp, out)
    except OSError as error:
        if not error.filename or error.filename == str(tmp):
            error.filename = str(out)  # the file the user asked for, not the temporary one
        raise
    finally:
        tmp.unlink(missing_ok=True)


if __name__ == "__main__":
    from runner.commands import run_command

    run_command(main)
