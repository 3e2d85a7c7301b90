"""What a person sees: progress, the end-of-run block, --help."""

import os
import pty
import subprocess
import sys

from conftest import run_cli


def test_no_progress_bar_when_output_is_not_a_terminal(tmp_path):
    result = run_cli(tmp_path, "trainer.epochs=300", "trainer.log_every=100", "trainer.plots=false")
    assert result.returncode == 0
    output = result.stdout + result.stderr
    assert "\r" not in output and "it/s" not in output and "epoch/s" not in output
    lines = [line for line in result.stdout.splitlines() if line.startswith("epoch")]
    assert [line.split()[1] for line in lines] == ["0/300", "100/300", "200/300", "300/300"]
    assert "train_loss" in lines[-1] and "val_accuracy" in lines[-1]


def test_progress_bar_in_a_terminal(tmp_path):
    """Run under a pseudo-terminal: the bar appears, and no per-epoch log lines."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "runner", "trainer.epochs=3000", "trainer.plots=false"],
        cwd=tmp_path,
        stdin=follower,
        stdout=follower,
        stderr=follower,
        close_fds=True,
    )
    os.close(follower)
    chunks = []
    while True:
        try:
            data = os.read(leader, 4096)
        except OSError:
            break
        if not data:
            break
        chunks.append(data)
    process.wait(timeout=120)
    os.close(leader)
    screen = b"".join(chunks).decode(errors="replace")
    assert process.returncode == 0
    assert "epoch/s" in screen and "%|" in screen
    assert "loss" in screen and "acc" in screen
    assert not any(line.startswith("epoch  100/") for line in screen.splitlines())
    assert "ok after 3000 epochs" in screen


def test_progress_none_prints_only_the_end_block(tmp_path):
    result = run_cli(tmp_path, "trainer.epochs=20", "trainer.progress=none", "trainer.plots=false")
    assert result.returncode == 0
    assert result.stdout.startswith("ok after 20 epochs")


def test_help_lists_groups_options_and_examples(tmp_path):
    result = run_cli(tmp_path, "--help")
    assert result.returncode == 0
    for expected in (
        "model: dense2, dense3",
        "optimizer: adagrad, adam, rmsprop, sgd",
        "experiment: sine_regression",
        "python -m runner -m model=dense2,dense3 seed=0,1,2",
        "python -m runner.compare",
    ):
        assert expected in result.stdout
    assert (
        sum(line.strip().startswith("python -m runner") for line in result.stdout.splitlines()) >= 3
    )


def test_sweep_ends_with_the_best_groups_and_the_summary_path(tmp_path):
    wide = {**os.environ, "COLUMNS": "300"}  # the path fits on the line whatever tmp_path is
    result = run_cli(
        tmp_path, "-m", "model=linear,dense2", "trainer.epochs=200", "trainer.plots=false", env=wide
    )
    assert result.returncode == 0
    tail = result.stdout[result.stdout.index("sweep: 2 jobs") :]
    assert "summary.csv" in tail.splitlines()[0]
    table = tail.splitlines()[1:4]
    assert table[0].split()[0] == "model" and {table[1].split()[0], table[2].split()[0]} == {
        "linear",
        "dense2",
    }


def test_a_reader_that_goes_away_costs_the_run_nothing(tmp_path):
    """`python -m runner | head -1`: the run finishes and records itself, no traceback."""
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runner",
            "trainer.epochs=2000",
            "trainer.log_every=10",
            "trainer.plots=false",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    process.stdout.readline()
    process.stdout.close()  # like head -1
    _, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err
    ledger = (tmp_path / "outputs" / "runs.csv").read_text().splitlines()
    assert len(ledger) == 2 and ",ok," in ledger[1]


def test_a_piped_run_prints_a_bounded_number_of_lines(tmp_path):
    args = ("trainer.epochs=2000", "trainer.log_every=10", "trainer.plots=false")
    result = run_cli(tmp_path, *args)
    assert result.returncode == 0
    epochs = [line.split()[1] for line in result.stdout.splitlines() if line.startswith("epoch")]
    assert 5 <= len(epochs) <= 12 and epochs[0] == "0/2000" and epochs[-1] == "2000/2000"
    every = run_cli(tmp_path, *args, "trainer.progress=lines")  # asked for every logged row
    assert sum(line.startswith("epoch") for line in every.stdout.splitlines()) == 201
