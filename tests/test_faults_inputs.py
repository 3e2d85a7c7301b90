"""Bad input of every kind a user can give (overrides, training CSV files, files to predict)
ends in success or in one line, never a traceback, and never a silent wrong prediction.

The explicit cases are the audit's (issue 32); the Hypothesis part draws random overrides
of the config's own keys (those ``python -m runner --cfg job`` shows) and random CSV files,
run in this process, and a few go through the command line. Each fuzz test tries
max_examples inputs (``--hypothesis-show-statistics`` shows them).
"""

import contextlib
import copy
import csv
import functools
import io
import math
import resource
import signal

import numpy as np
import pandas as pd
import pytest
from conftest import compose, run_cli
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from omegaconf import OmegaConf, open_dict

from runner import train
from runner.errors import EXIT_USAGE, _one_line
from runner.predict import main as predict_main
from runner.records import flatten

pytestmark = pytest.mark.faults

FAST = (
    "trainer.epochs=3",
    "trainer.log_every=1",
    "trainer.plots=false",
    "trainer.progress=none",
    "model.width=8",
)
SMALL = ("data.samples=30", "data.val_samples=30")  # of the generated data (spiral)
OVERRIDE_INPUTS, CSV_INPUTS, PREDICT_INPUTS = 100, 100, 150  # the fuzz's inputs, about 60 s
SECONDS_PER_INPUT = 3  # an input that trains longer (trainer.epochs=10**9) is slow, not wrong
MEMORY_HEADROOM = 2 << 30  # bytes a fuzzed run may allocate beyond the test process's own


class _TooSlow(BaseException):
    """An input that made a run take long: accepted (a big run is not an error), and stopped."""


@contextlib.contextmanager
def _bounded():
    """Within: a run stops after SECONDS_PER_INPUT, and allocations beyond MEMORY_HEADROOM fail
    (data.samples=10**12 must not take the shared machine's memory)."""

    def stop(*_):
        raise _TooSlow

    previous = signal.signal(signal.SIGALRM, stop)
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    size = _vm_size()
    if size:
        limit = size + MEMORY_HEADROOM
        resource.setrlimit(resource.RLIMIT_AS, (limit if hard < 0 else min(limit, hard), hard))
    signal.setitimer(signal.ITIMER_REAL, SECONDS_PER_INPUT)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def _vm_size():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return None


def _context(tmp_path, name):
    return train.RunContext(
        run_dir=tmp_path / name, ledger=tmp_path / "runs.csv", base_dir=tmp_path
    )


def _outcome(cfg, ctx):
    """Train ``cfg`` -> "ok", "diverged", "usage" (a one-line mistake, exit 2), "failed" (one
    line, exit 1: out of memory) or "slow"; a bug fails the test with its message."""
    try:
        with _bounded():
            row = train.run(cfg, ctx)
    except _TooSlow:
        return "slow"
    message = str(row["message"] or "")
    assert "\n" not in message and "Traceback" not in message, message
    assert "traceback in" not in message, f"a bug: {message}"
    if row["status"] == "failed":
        if ctx.mistake:
            return "usage"
        assert message.startswith("out of memory"), message
        return "failed"
    assert row["status"] in ("ok", "diverged"), row["status"]
    if row["status"] == "ok":
        assert math.isfinite(row["train_loss"]), row
    return row["status"]


def _composed(*overrides):
    """The config, or the one line the command would end in (a Hydra or OmegaConf error)."""
    try:
        return compose(*overrides), None
    except Exception as error:  # noqa: BLE001 - what the command's entry point gets
        line, code = _one_line(error)
        assert line is not None, f"a traceback for {overrides}: {error!r}"
        assert code == EXIT_USAGE and "\n" not in line, line
        return None, line


# --- explicit cases of the audit (items 11 to 15) ------------------------------------------


def _csv_run(tmp_path, text, *overrides, name="run"):
    (tmp_path / "data.csv").write_text(text)
    cfg = compose(*FAST, "data=csv", "data.path=data.csv", "data.target=y", *overrides)
    ctx = _context(tmp_path, name)
    return train.run(cfg, ctx), ctx


def _rows(n, inf_at=None):
    lines = ["a,b,y"]
    for i in range(n):
        a = "inf" if i == inf_at else f"{(i * 7919) % 100 / 10}"
        lines.append(f"{a},{i % 5},{'yes' if i % 2 else 'no'}")
    return "\n".join(lines) + "\n"


def test_inf_in_training_data_is_refused_naming_column_and_line(tmp_path):
    row, ctx = _csv_run(tmp_path, _rows(60, inf_at=6))
    assert row["status"] == "failed" and ctx.mistake
    assert row["message"] == (
        "data.path=data.csv: column 'a' holds an infinite number (inf) on line 8; numbers must "
        "be finite: fix those cells or leave them empty (missing)"
    )


def test_a_repeated_column_name_is_refused_naming_it(tmp_path):
    text = "a,a,y\n" + "".join(f"{i},{i * 2},{i % 2}\n" for i in range(40))
    row, ctx = _csv_run(tmp_path, text)
    assert row["status"] == "failed" and ctx.mistake
    assert (
        "the column name 'a' appears more than once in the header of data.csv" in (row["message"])
    )


def test_a_real_column_named_like_pandas_renaming_is_kept(tmp_path):
    text = "a,a.1,y\n" + "".join(f"{i},{i * 2},{i % 2}\n" for i in range(40))
    row, _ = _csv_run(tmp_path, text)
    assert row["status"] == "ok", row["message"]


def test_classes_of_one_row_each_are_warned_about(tmp_path, capsys):
    text = "a,y\n" + "".join(f"{i / 10},id{i}\n" for i in range(60))
    row, _ = _csv_run(tmp_path, text)
    err = capsys.readouterr().err
    assert row["status"] == "ok"
    assert (
        "warning: target 'y' has 60 classes in 60 rows, 60 of them with a single row" in err
        and "data.task=regression" in err
    )


def test_a_missing_column_shows_a_few_short_names_and_nothing_of_a_non_csv_file(tmp_path):
    wide = ",".join(f"{'c' * 50}{i}" for i in range(15)) + ",y\n" + ",".join(["1"] * 16) + "\n"
    (tmp_path / "wide.csv").write_text(wide * 1)
    cfg = compose(*FAST, "data=csv", "data.path=wide.csv", "data.target=nope")
    row = train.run(cfg, _context(tmp_path, "wide"))
    assert "columns: " + "c" * 37 + "..., " in row["message"]
    assert "and 6 more" in row["message"] and "c" * 41 not in row["message"]
    secret = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    (tmp_path / "passwd").write_text(secret)
    cfg = compose(*FAST, "data=csv", "data.path=passwd", "data.target=y")
    row = train.run(cfg, _context(tmp_path, "secret"))
    assert row["status"] == "failed" and "root" not in row["message"]
    assert "does not read as column names" in row["message"]


@pytest.fixture(scope="module")
def predictor_run(tmp_path_factory):
    """A trained classification run (numbers and a text column) to predict with."""
    base = tmp_path_factory.mktemp("fuzz_predict")
    rng = np.random.default_rng(0)
    n = 90
    frame = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    frame["c"] = rng.choice(["red", "blue"], n)
    frame["y"] = np.where(frame.a + frame.b > 0, "up", "down")
    frame.to_csv(base / "train.csv", index=False)
    cfg = compose(
        "data=csv",
        "data.path=train.csv",
        "data.target=y",
        "trainer.epochs=30",
        "trainer.plots=false",
    )
    ctx = _context(base, "run")
    assert train.run(cfg, ctx)["status"] == "ok"
    (ctx.run_dir / ".hydra").mkdir()
    OmegaConf.save(cfg, ctx.run_dir / ".hydra" / "config.yaml")
    return base, ctx.run_dir


def _predict(run_dir, path, out):
    """runner.predict in this process -> (exit code, its stderr)."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err):
        code = predict_main([str(run_dir), str(path), "--out", str(out)])
    return code, err.getvalue()


def test_inf_in_a_file_to_predict_is_refused_naming_column_and_line(predictor_run, tmp_path):
    _, run_dir = predictor_run
    (tmp_path / "new.csv").write_text("a,b,c\n0.1,0.2,red\n-inf,0.3,blue\n")
    code, err = _predict(run_dir, tmp_path / "new.csv", tmp_path / "out.csv")
    assert code == 2 and not (tmp_path / "out.csv").exists()
    assert err == (
        "error: new.csv: column 'a' holds an infinite number (inf) on line 3; numbers must be "
        "finite: fix those cells or leave them empty (missing)\n"
    )


@pytest.mark.parametrize(
    "damage, says",
    [
        (lambda b: b[: len(b) // 2], "is damaged or not a parameters file (File is not a zip"),
        (lambda b: b"\x80\x04" + bytes(range(200)), "is damaged or not a parameters file (not an"),
        (lambda b: b"", "is damaged or not a parameters file"),
    ],
    ids=["cut", "garbled", "empty"],
)
def test_a_damaged_params_file_is_one_line_that_never_suggests_pickle(
    predictor_run, tmp_path, damage, says
):
    import shutil

    base, run_dir = predictor_run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    params = copy / "params.npz"
    params.write_bytes(damage(params.read_bytes()))
    code, err = _predict(copy, base / "train.csv", tmp_path / "out.csv")
    assert code == 2 and says in err, err
    assert err.count("\n") == 1 and "pickle" not in err and "Traceback" not in err


@pytest.mark.parametrize("text", ['{"format": 1, "feat', "[1, 2]", "\xff\xfe", '{"a": 1}'])
def test_a_damaged_preprocessing_file_is_one_line(predictor_run, tmp_path, text):
    import shutil

    base, run_dir = predictor_run
    copy = tmp_path / "run"
    shutil.copytree(run_dir, copy)
    (copy / "preprocessing.json").write_bytes(text.encode("latin-1"))
    code, err = _predict(copy, base / "train.csv", tmp_path / "out.csv")
    assert code == 2 and "preprocessing.json is damaged or not a preprocessing file" in err
    assert err.count("\n") == 1


def test_on_the_command_line_a_password_file_and_inf_are_one_line(tmp_path):
    (tmp_path / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (tmp_path / "inf.csv").write_text(_rows(40, inf_at=3))
    for path in ("passwd", "inf.csv"):
        done = run_cli(tmp_path, *FAST, "data=csv", f"data.path={path}", "data.target=y")
        assert done.returncode == 2, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and "Traceback" not in done.stderr
        assert "root" not in done.stderr


# --- fuzz ---------------------------------------------------------------------------------

KEYS = sorted(flatten(OmegaConf.to_container(compose())))
ODD_TEXT = ["", " ", "null", "[]", "{}", "abc", "${oops}", "${trainer.epochs}", "1e400", "-0"]
values = st.one_of(
    st.sampled_from(ODD_TEXT),
    st.integers(-(10**15), 10**15),
    st.integers(-3, 3),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.text(st.characters(blacklist_categories=("Cs",)), max_size=12),
    st.booleans(),
    st.lists(st.integers(-5, 5), max_size=3),
)


def _override(key, value):
    """``key=value`` as a user might type it (strings quoted when they would not parse bare)."""
    if isinstance(value, bool):
        return f"{key}={str(value).lower()}"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{key}={'nan' if math.isnan(value) else ('inf' if value > 0 else '-inf')}"
    if isinstance(value, list):
        return f"{key}=[{','.join(map(str, value))}]"
    if isinstance(value, str) and value not in ODD_TEXT:
        return f"{key}='{value}'" if "'" not in value and "\\" not in value else f"{key}={value}"
    return f"{key}={value}"


@settings(
    max_examples=OVERRIDE_INPUTS,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
@given(pairs=st.lists(st.tuples(st.sampled_from(KEYS), values), min_size=1, max_size=3))
def test_random_overrides_end_in_success_or_one_line(tmp_path_factory, pairs):
    overrides = [_override(key, value) for key, value in pairs]
    cfg, line = _composed(*FAST, *SMALL, *overrides)
    if cfg is None:
        event("refused while composing")
        return
    base = tmp_path_factory.mktemp("o")
    event(_outcome(cfg, _context(base, "run")))


ODD_NAMES = ["a", "y", "", " ", "é", "x,y", 'q"q', "1", "a.1", "Unnamed: 0", "a" * 300]
ODD_CELLS = ["", "inf", "-inf", "nan", "NA", "text", "x, y", '"', "é", "1e308", "-0", "TRUE"]
PLAIN = st.floats(-100, 100, allow_nan=False, width=32)
ODD = st.one_of(
    st.sampled_from(ODD_CELLS),
    st.floats(allow_nan=True, allow_infinity=True, width=64),
    st.integers(-(10**20), 10**20),
)
CELLS = st.one_of(PLAIN, PLAIN, PLAIN, ODD)  # mostly plain numbers, a fault now and then
FAULTS = ("none", "name", "cell", "cells", "encoding", "width", "rows", "labels", "target")


@functools.cache
def _csv_base():
    return compose(*FAST, "data=csv", "data.path=data.csv", "data.target=y")


def _csv_config():
    """A fresh copy of the data=csv config (composing it anew for each input costs more than
    the run)."""
    return copy.deepcopy(_csv_base())


@st.composite
def csv_files(draw):
    """(bytes of a CSV file, its target column): a clean file of numbers and a target of two
    classes, with none, one or two faults of the kinds FAULTS names."""
    faults = draw(st.lists(st.sampled_from(FAULTS), min_size=1, max_size=2))
    names = ["a", "b", "c"][: draw(st.integers(1, 3))] + ["y"]
    labels = [0, 1]
    if "labels" in faults:
        labels = draw(st.sampled_from([["k", "m", "n"], [7], [1.5, 2.5, 3.25], ODD_CELLS]))
    n_rows = draw(st.integers(0, 3)) if "rows" in faults else draw(st.integers(12, 30))
    rows = [[*(draw(PLAIN) for _ in names[:-1]), labels[i % len(labels)]] for i in range(n_rows)]
    if "name" in faults:
        names[draw(st.integers(0, len(names) - 1))] = draw(st.sampled_from(ODD_NAMES))
    for _ in range(draw(st.integers(1, 6)) if "cells" in faults else int("cell" in faults)):
        if rows:
            row = draw(st.integers(0, len(rows) - 1))
            rows[row][draw(st.integers(0, len(names) - 1))] = draw(ODD)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(names)
    writer.writerows(rows)
    text = buffer.getvalue()
    if "width" in faults and rows:  # a line of another width
        text += ",".join(["1"] * (len(names) + draw(st.sampled_from([-1, 1])))) + "\n"
    encoding = "utf-8"
    if "encoding" in faults:
        encoding = draw(st.sampled_from(["utf-8-sig", "latin-1", "utf-16"]))
        text = text.replace("b", "é", 1)  # a byte that is not UTF-8 in latin-1
    data = text.encode(encoding, errors="replace")
    target = draw(st.sampled_from([*names, "missing"])) if "target" in faults else "y"
    return data, target


@settings(
    max_examples=CSV_INPUTS,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
@given(case=csv_files())
def test_random_csv_files_train_or_end_in_one_line(tmp_path_factory, case):
    data, target = case
    base = tmp_path_factory.mktemp("c")
    (base / "data.csv").write_bytes(data)
    cfg = _csv_config()
    with open_dict(cfg):
        cfg.data.target = target
    event(_outcome(cfg, _context(base, "run")))


@st.composite
def files_to_predict(draw):
    """(header, rows, encoding) of a file for the run of ``predictor_run`` (columns a, b
    numbers, c red or blue), with none, one or two faults."""
    faults = draw(st.lists(st.sampled_from(FAULTS), min_size=1, max_size=2))
    columns = list(draw(st.permutations(["a", "b", "c"])))
    if "name" in faults:
        columns = draw(st.sampled_from([[*columns, "extra"], columns[:2], [*columns, columns[0]]]))
    plain = {"a": PLAIN, "b": PLAIN, "c": st.sampled_from(["red", "blue", "green"])}
    n_rows = draw(st.integers(0, 2)) if "rows" in faults else draw(st.integers(1, 12))
    rows = [[draw(plain.get(c, PLAIN)) for c in columns] for _ in range(n_rows)]
    for _ in range(draw(st.integers(1, 4)) if "cells" in faults else int("cell" in faults)):
        if rows:
            rows[draw(st.integers(0, len(rows) - 1))][draw(st.integers(0, len(columns) - 1))] = (
                draw(ODD)
            )
    encoding = "utf-8"
    if "encoding" in faults:
        encoding = draw(st.sampled_from(["utf-8-sig", "latin-1"]))
        if rows:
            rows[-1][columns.index("c") if "c" in columns else 0] = "rouge-é"
    return columns, rows, encoding


@settings(
    max_examples=PREDICT_INPUTS,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    derandomize=True,
)
@given(case=files_to_predict())
def test_random_files_to_predict_give_a_full_prediction_or_one_line(
    predictor_run, tmp_path_factory, case
):
    columns, rows, encoding = case
    _, run_dir = predictor_run
    base = tmp_path_factory.mktemp("p")
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    (base / "new.csv").write_bytes(buffer.getvalue().encode(encoding, errors="replace"))
    code, err = _predict(run_dir, base / "new.csv", base / "out.csv")
    assert "Traceback" not in err
    event(f"exit {code}")
    if code == 2:
        assert err.startswith("error: ") and err.count("\n") == 1, err
        assert not (base / "out.csv").exists()
        return
    assert code == 0, err
    out = pd.read_csv(base / "out.csv", keep_default_na=False)
    given_rows = pd.read_csv(base / "new.csv", encoding=encoding, skip_blank_lines=False)
    assert len(out) == len(given_rows)
    assert set(out["predicted_y"]) <= {"up", "down"}
    proba = out[["proba_down", "proba_up"]].astype(float).to_numpy()
    assert np.isfinite(proba).all() and np.allclose(proba.sum(axis=1), 1, atol=1e-4)


@pytest.mark.parametrize(
    "override",
    [
        "data.name=[]",
        "optimizer.name=[]",
        "loss.name=[]",
        "model.layers.0.activation=[]",
        "model.output.activation={a:1}",
        "model.weight_init=[]",
        "objective=[[val_loss]]",
    ],
)
def test_a_list_or_a_mapping_where_a_name_belongs_is_one_line(tmp_path, override):
    """Found by the fuzz under Hydra 1.4: a registry looked such a value up as a key."""
    assert _outcome(compose(*FAST, override), _context(tmp_path, "run")) == "usage"
