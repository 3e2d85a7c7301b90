"""The damaged-file matrix of the fault suite, for what the ledger side writes: every such file
(the ledger runs.csv, its index .runs.csv.index.npz, a sweep's snapshot .known_runs.npz, a
run's summary.csv and metrics.csv, a sweep's summary.csv and its saved config multirun.yaml)
made empty, cut mid-row, cut mid-header, garbled, not UTF-8, a folder or random bytes, then
read by ``runner.compare``, ``runner.report`` and ``runner.predict best`` and run over by
``--resume`` and a new sweep. Each ends with its exit code, a warning or one line, never a
traceback, and no line of the damaged file is lost: it is still in the file, beside it
(``*.damaged``) or in an earlier attempt's folder.

7 files x 7 kinds = 49 damaged folders; the readers' test runs 3 commands on each (147 cases),
the sweeps' test 2 more (98 cases, marked slow): 245 in all. Then one number of a reused job's
ledger row damaged (the sweep that reuses it still exits 0, the closing table warns), and 5
multirun.yaml files that parse but are not what Hydra writes (``--resume`` says what is missing
in one line)."""

import contextlib
import io
import random
import shutil

import pandas as pd
import pytest
from cli_batch import Batch, selected_cases
from conftest import run_cli

pytestmark = pytest.mark.faults

SWEEP = ("-m", "model.width=4,8", "trainer.epochs=2", "data.samples=40")
NEW_SWEEP = ("-m", "model.width=4,16", "trainer.epochs=2", "data.samples=40")
TARGETS = {  # name: path in a copy of the base folder ({sweep}: the sweep's folder)
    "ledger": "outputs/runs.csv",
    "index": "outputs/.runs.csv.index.npz",
    "snapshot": "{sweep}/.known_runs.npz",
    "run summary": "{sweep}/0/summary.csv",
    "run metrics": "{sweep}/0/metrics.csv",
    "sweep summary": "{sweep}/summary.csv",
    "sweep config": "{sweep}/multirun.yaml",
}
KINDS = ("empty", "cut mid-row", "cut mid-header", "garbled", "not utf-8", "folder", "binary")
CASES = [(target, kind) for target in TARGETS for kind in KINDS]
TARGETS_ORDER = list(TARGETS)


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """A finished two-job sweep, resumed once (so the ledger has its index and the sweep its
    snapshot)."""
    cwd = tmp_path_factory.mktemp("base")
    first = run_cli(cwd, *SWEEP)
    assert first.returncode == 0, first.stderr
    sweep = _sweep_of(cwd)
    again = run_cli(cwd, "--resume", str(sweep.relative_to(cwd)))
    assert again.returncode == 0, again.stderr
    for name in ("runs.csv", ".runs.csv.index.npz"):
        assert (cwd / "outputs" / name).is_file()
    assert (sweep / ".known_runs.npz").is_file()
    return cwd


def _sweep_of(cwd):
    (sweep,) = [p.parent for p in (cwd / "outputs" / "sweeps").glob("*/*/multirun.yaml")]
    return sweep


def _copy(base, tmp_path):
    """The base folder copied, its absolute paths (ledger rows, summaries, saved configs)
    pointing into the copy, so every command reads the copy's files."""
    copy = tmp_path / "work"
    shutil.copytree(base, copy)
    old, new = str(base).encode(), str(copy).encode()
    for path in copy.rglob("*"):
        if path.is_file() and path.suffix in (".csv", ".yaml"):
            path.write_bytes(path.read_bytes().replace(old, new))
    return copy


def _damage(path, kind):
    """Damage ``path`` as ``kind`` -> the bytes it now holds (None for a folder)."""
    data = path.read_bytes()
    rng = random.Random(f"{path.name}-{kind}")
    first_line = data.find(b"\n") if b"\n" in data else len(data)
    if kind == "empty":
        damaged = b""
    elif kind == "cut mid-row":
        last = data.rstrip(b"\n").rfind(b"\n") + 1  # the last row's start
        damaged = data[: last + max(1, (len(data) - last) // 2)]
    elif kind == "cut mid-header":
        damaged = data[: max(1, first_line // 2)]
    elif kind == "garbled":
        middle = len(data) // 2
        noise = bytes(rng.choice(b'abc,"\n\r;0x9.-') for _ in range(40))
        damaged = data[:middle] + noise + data[middle + 40 :]
    elif kind == "not utf-8":
        damaged = data.replace(b"\n", b"\xe9\xff\n").replace(b"\xe9\xff\n", b"\n", 1)
    elif kind == "folder":
        path.unlink()
        path.mkdir()
        (path / "inside").write_text("a file in the folder\n")
        return None
    else:
        damaged = rng.randbytes(600)
    path.write_bytes(damaged)
    return damaged


def _damaged_copy(base, tmp_path, target, kind):
    copy = _copy(base, tmp_path)
    sweep = _sweep_of(copy)
    path = copy / TARGETS[target].format(sweep=sweep.relative_to(copy))
    return copy, sweep, path, _damage(path, kind)


def _no_line_lost(copy, path, damaged):
    """Every line the damaged file held is still in some file of its name (``runs.csv``,
    ``runs.csv.damaged``, ``attempts/1/metrics.csv``, ...) in the copy."""
    if damaged is None or path.suffix == ".npz":  # a folder; a cache rebuilt from the ledger
        return
    kept = b"".join(
        p.read_bytes() for p in copy.rglob(path.name + "*") if p.is_file() and p != path
    )
    kept += path.read_bytes() if path.is_file() else b""
    lost = [line for line in damaged.split(b"\n") if line.strip() and line not in kept]
    assert not lost, f"{len(lost)} lines lost, e.g. {lost[0][:80]!r}"


def _in_process(main, argv, cwd, monkeypatch):
    """``main(argv)`` in ``cwd`` -> (exit code, stderr); an exception is a traceback."""
    monkeypatch.chdir(cwd)
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return code, err.getvalue()


def _one_line_or_warnings(code, err, command):
    assert "Traceback" not in err
    assert code in (0, 2), err
    if code == 2:  # the sources cannot be compared: one line says why
        assert err.strip().splitlines()[-1].startswith(f"{command}: "), err
        assert [line.startswith(f"{command}: ") for line in err.splitlines()].count(True) == 1


@pytest.mark.parametrize(("target", "kind"), CASES)
def test_compare_report_and_predict_read_a_damaged_file(base, tmp_path, monkeypatch, target, kind):
    from runner import predict
    from runner.analysis import compare, report

    copy, sweep, path, damaged = _damaged_copy(base, tmp_path, target, kind)
    source = [] if target in ("ledger", "index") else [str(sweep)]
    code, err = _in_process(
        compare.main, [*source, "--metric", "val_accuracy", "--at", "best"], copy, monkeypatch
    )
    _one_line_or_warnings(code, err, "compare")
    code, err = _in_process(report.main, [*source, "--out", "r.html"], copy, monkeypatch)
    _one_line_or_warnings(code, err, "report")
    assert (copy / "r.html").is_file() == (code == 0)
    (copy / "new.csv").write_text("x0,x1\n0.1,0.2\n-0.3,0.5\n")  # the spiral's features
    ranked = ["--from", "outputs/runs.csv" if not source else str(sweep)]
    argv = ["best", "new.csv", *ranked, "--out", "p.csv"]
    code, err = _in_process(predict.main, argv, copy, monkeypatch)
    _one_line_or_warnings(code, err, "error")
    if code == 0:  # the best run's predictions, one row per input row
        assert (copy / "p.csv").read_text().count("\n") == 3
    _no_line_lost(copy, path, damaged)


def _resume_then_sweep(base, root, case):
    """One case in its own damaged copy: ``--resume`` of the sweep, then a new sweep ->
    (copy, path, damaged bytes, the resume's and the new sweep's CompletedProcess)."""
    target, kind = case
    folder = root / f"{TARGETS_ORDER.index(target)}-{KINDS.index(kind)}"
    folder.mkdir()
    copy, sweep, path, damaged = _damaged_copy(base, folder, target, kind)
    resumed = run_cli(copy, "--resume", str(sweep.relative_to(copy)))
    new = run_cli(copy, *NEW_SWEEP)
    return copy, path, damaged, resumed, new


@pytest.fixture(scope="module")
def swept(base, tmp_path_factory, request):
    """Every selected case of the resume-and-new-sweep test, each in its own copy, run a few
    at a time (cli_batch): the cases share no file."""
    root = tmp_path_factory.mktemp("swept")
    cases = selected_cases(
        request, test_resume_and_a_new_sweep_over_a_damaged_file, "target", "kind"
    )
    return Batch(lambda case: _resume_then_sweep(base, root, case), cases)


@pytest.mark.slow
@pytest.mark.parametrize(("target", "kind"), CASES)
def test_resume_and_a_new_sweep_over_a_damaged_file(swept, target, kind):
    copy, path, damaged, resumed, new = swept[target, kind]
    assert "Traceback" not in resumed.stderr, resumed.stderr
    assert "Traceback" not in new.stderr, new.stderr
    if target == "sweep config":  # nothing to replay: one line says why, nothing runs
        assert resumed.returncode == 2, resumed.stderr
        (line,) = resumed.stderr.splitlines()
        assert line.startswith("error: --resume ") and "multirun.yaml" in line
        assert new.returncode == 0, new.stderr
    elif (target, kind) == ("ledger", "folder"):  # no run can be recorded: each says so in a line
        assert resumed.returncode == 1 and new.returncode == 1  # and its own row says failed
        assert "runs.csv is a folder, not a ledger" in new.stderr
    elif (target, kind) == ("snapshot", "folder"):  # moved aside, said, and the sweep goes on
        assert resumed.returncode == 0, resumed.stderr
        assert "was not a snapshot of the ledger; moved aside" in resumed.stderr
        assert new.returncode == 0, new.stderr
    else:
        assert resumed.returncode == 0, resumed.stderr
        assert new.returncode == 0, new.stderr
    _no_line_lost(copy, path, damaged)
    if target == "ledger" and kind != "folder":  # the runs made since are all recorded
        ledger = (copy / "outputs" / "runs.csv").read_text(errors="replace")
        assert ledger.count(",ok,") >= 2


def test_a_reused_jobs_damaged_number_is_left_out_of_the_closing_table(tmp_path):
    """Every job ok, one reused from a ledger row whose val_loss is garbled: the sweep exits 0
    (the exit follows the jobs), the closing table warns naming the job and leaves the cell
    out, and the damaged row stays in the ledger."""
    first = run_cli(tmp_path, *SWEEP, "hydra.sweep.dir=outputs/sweeps/a")
    assert first.returncode == 0, first.stderr
    ledger = tmp_path / "outputs" / "runs.csv"
    header, *rows = ledger.read_text().splitlines()
    names = header.split(",")  # no cell of this sweep's rows holds a comma
    (at,) = [i for i, row in enumerate(rows) if row.split(",")[names.index("job")] == "0"]
    cells = rows[at].split(",")  # job 0's row: the jobs may have finished in either order
    cells[names.index("val_loss")] = "1.09x5"
    rows[at] = ",".join(cells)
    ledger.write_text("\n".join([header, *rows]) + "\n")

    again = run_cli(tmp_path, *SWEEP, "hydra.sweep.dir=outputs/sweeps/b")
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    (warning,) = [line for line in again.stderr.splitlines() if "1.09x5" in line]
    assert warning.startswith("warning: ") and "job 0: val_loss '1.09x5' is not a number" in warning
    assert "left out of the table" in warning
    summary = pd.read_csv(tmp_path / "outputs" / "sweeps" / "b" / "summary.csv")
    assert list(summary.status) == ["ok", "ok"] and summary.reused_from.notna().all()
    assert rows[at] in ledger.read_text().splitlines()  # the damaged row is kept as it was


@pytest.mark.parametrize(
    ("text", "missing"),
    [
        ("a: 1\n", "list of overrides hydra.overrides.hydra"),
        ("[1, 2]\n", "hydra section"),
        ("hydra: {overrides: {task: 3, hydra: []}}\n", "list of overrides hydra.overrides.task"),
        ("hydra: {overrides: {task: [], hydra: []}}\n", "section hydra.job"),
        (
            "hydra: {overrides: {task: [], hydra: []}, job: {}, runtime: {}, callbacks: [1]}\n",
            "section hydra.callbacks",
        ),
    ],
)
def test_a_multirun_yaml_not_as_hydra_writes_it_is_one_line_naming_what_is_missing(
    tmp_path, text, missing
):
    """A multirun.yaml edited by hand, or another YAML in its place, that still parses: --resume
    refuses it in one line before anything runs."""
    from runner.sweeps import resume

    (tmp_path / "multirun.yaml").write_text(text)
    with pytest.raises(resume.ResumeError) as refused:
        resume.rewrite(["--resume", str(tmp_path)])
    message = str(refused.value)
    assert "\n" not in message and f"it has no {missing}, which every sweep's" in message
