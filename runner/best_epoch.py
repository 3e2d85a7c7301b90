"""The best logged epoch of a run, early stopping on it, and the parameters kept from it.

Checked at the logged epochs only (``trainer.log_every``): those are the epochs metrics.csv
has a row for, so the summary's figures of ``best_epoch`` are always a row of that file, and
keeping the best parameters costs one copy of the flat parameter buffer per improvement, not
an evaluation per epoch. Patience counts epochs, like Keras' and scikit-learn's, and runs out
at the first logged epoch ``patience`` or more epochs after the best one.
"""

import math

import numpy as np

# monitored metric -> +1 when larger is better, -1 when smaller is
MONITORS = {
    "val_loss": -1,
    "val_accuracy": 1,
    "train_loss": -1,
    "train_accuracy": 1,
    "val_rmse": -1,  # regression runs: RMSE, MAE and R² in place of accuracy
    "val_mae": -1,
    "val_r2": 1,
    "train_rmse": -1,
}
KEEP_MODES = ("auto", "best", "last")


class BestEpoch:
    """Follows ``monitor`` over the logged rows; holds a copy of the parameters at its best."""

    def __init__(self, parameters, monitor="val_loss", min_delta=0.0, patience=None, keep="last"):
        self.parameters = parameters  # the model's flat parameter buffer (a live view)
        self.monitor = monitor
        self.sign = MONITORS[monitor]
        self.min_delta = float(min_delta)
        self.patience = patience
        self.keep = keep
        self.best_value = math.nan
        self.best_row = None
        self._snapshot = None

    @property
    def best_epoch(self):
        return None if self.best_row is None else self.best_row["epoch"]

    def logged(self, row):
        """Take a logged row -> a reason to stop (patience ran out) or None."""
        value = row.get(self.monitor)
        if value is None or not math.isfinite(value):
            return None
        if self.best_row is None or self._improves(value):
            self.best_value, self.best_row = value, dict(row)
            if self.keep == "best":
                self._snapshot = np.array(self.parameters, copy=True)
            return None
        waited = row["epoch"] - self.best_epoch
        if self.patience is not None and waited >= self.patience:
            return (
                f"stopped early at epoch {row['epoch']}: no {self.monitor} improvement "
                f"> {self.min_delta:g} in {waited} epochs "
                f"(trainer.early_stopping.patience={self.patience})"
            )
        return None

    def _improves(self, value):
        return self.sign * (value - self.best_value) > self.min_delta

    def restore(self):
        """Put the best epoch's parameters back into the model -> that epoch's row, or None
        when the last parameters are kept (``keep=last``, or nothing was ever better)."""
        if self.keep != "best" or self._snapshot is None:
            return None
        self.parameters[...] = self._snapshot
        return self.best_row


def keep_mode(trainer):
    """``trainer.keep`` as best or last: auto keeps the best epoch when early stopping is on."""
    keep = trainer.get("keep", "auto")
    if keep == "auto":
        return "best" if trainer["early_stopping"]["patience"] is not None else "last"
    return keep
