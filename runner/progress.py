"""What a run shows while it trains: a progress bar in a terminal, plain lines anywhere else."""

import os
import shutil
import sys
import time

MODES = ("auto", "bar", "lines", "none")
REFRESH_SECONDS = 0.25  # the bar redraws at most 4 times a second, so it costs nothing measurable


def say(*parts, file=None):
    """print() that survives a reader going away (``python -m runner | head``): the run goes on
    and records everything; only what it would have shown is dropped."""
    stream = file or sys.stdout
    try:
        print(*parts, file=stream, flush=True)
    except BrokenPipeError:
        # point the stream at /dev/null so later writes and the flush at exit stay quiet
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)


FEW_LINES = 10  # what `auto` prints outside a terminal: about this many lines, plus the result


def choose_mode(setting, parallel):
    """``trainer.progress`` -> 'bar', 'lines', 'few' or 'none'. auto: a bar only for an
    interactive terminal with one job at a time; elsewhere (a pipe, a log file, parallel jobs)
    about FEW_LINES plain lines. ``lines`` asks for every logged row."""
    if setting != "auto":
        return setting
    interactive = sys.stdout.isatty() and sys.stderr.isatty()
    return "bar" if interactive and not parallel else "few"


def reporter(mode, epochs):
    if mode == "bar" and epochs > 0:
        return BarReporter(epochs)
    if mode in ("lines", "bar"):
        return LineReporter(epochs)
    if mode == "few":
        return LineReporter(epochs, lines=FEW_LINES)
    return Reporter()


class Reporter:
    """Silent: ``epoch`` is called after every epoch, ``logged`` after every metrics row."""

    def epoch(self, epoch, stats):
        pass

    def logged(self, row):
        pass

    def close(self):
        pass


class LineReporter(Reporter):
    """Plain lines on stdout, readable in a log file: one per metrics row, or with ``lines``
    about that many, evenly spaced (epoch 0 and the last are always shown)."""

    def __init__(self, epochs, lines=None):
        self.width = len(str(epochs))
        self.epochs = epochs
        self.spacing = epochs / lines if lines else 0
        self.next_due = 0

    def logged(self, row):
        epoch = row["epoch"]
        if epoch < self.next_due and epoch != self.epochs:
            return
        self.next_due = epoch + self.spacing
        say(f"epoch {epoch:>{self.width}}/{self.epochs}  {_figures(row)}")


class BarReporter(Reporter):
    """A tqdm bar over epochs with the latest loss and accuracy, on stderr."""

    def __init__(self, epochs):
        from tqdm import tqdm  # imported only when a bar is shown

        # A terminal that reports no size (a bare pty) makes tqdm draw nothing; shutil falls back.
        size = shutil.get_terminal_size((100, 24))
        self.bar = tqdm(
            total=epochs,
            unit="epoch",
            ncols=size.columns,
            nrows=size.lines,
            leave=False,
            mininterval=REFRESH_SECONDS,
        )
        self.next_refresh = 0.0
        self.latest = ""

    def epoch(self, epoch, stats):
        now = time.monotonic()
        if now < self.next_refresh:
            return
        self.next_refresh = now + REFRESH_SECONDS
        self.bar.n = epoch
        self.bar.set_postfix_str(f"loss {stats['data_loss']:.4g}{self.latest}", refresh=True)

    def logged(self, row):
        # accuracies are measured on logged epochs only, so they come from the last row
        if "train_rmse" in row:
            self.latest = (
                f" rmse {row['train_rmse']:.4g} val_loss {row['val_loss']:.4g}"
                f" val_rmse {row['val_rmse']:.4g}"
            )
        else:
            self.latest = (
                f" acc {row['train_accuracy']:.3f} val_loss {row['val_loss']:.4g}"
                f" val_acc {row['val_accuracy']:.3f}"
            )

    def close(self):
        self.bar.close()


# what a logged row shows: accuracy for classification; RMSE and R² for regression
SHOWN = (
    "train_loss",
    "train_accuracy",
    "train_rmse",
    "val_loss",
    "val_accuracy",
    "val_rmse",
    "val_r2",
)


def _figures(row):
    return "  ".join(f"{key} {row[key]:.4g}" for key in SHOWN if key in row)
