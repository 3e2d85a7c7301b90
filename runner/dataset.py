"""What a run's data is: the arrays and task of a :class:`Dataset`, and the checks of the keys
every dataset shares. Below ``runner.data`` (generated or CSV) and ``runner.tables`` (CSV),
which both build one."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from omegaconf import OmegaConf

from runner.errors import ConfigError
from runner.metric_names import CLASSIFICATION, REGRESSION

__all__ = [
    "CLASSIFICATION",
    "REGRESSION",
    "Dataset",
    "check_test_fraction",
    "csv_path",
    "is_fraction",
    "is_int",
]


@dataclass
class Dataset:
    """Training and validation arrays plus what the model needs to know about the target."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    task: str  # CLASSIFICATION (integer labels) or REGRESSION (float targets, (n, k))
    n_classes: int = 0  # classification only
    class_names: tuple = ()
    notes: tuple = ()  # hints for the user about this data, printed before training
    X_test: np.ndarray | None = None  # the held-out test split (data.test_fraction), or None
    y_test: np.ndarray | None = None
    encoding: object = None  # runner.tables.encoding.Encoding: how CSV rows became these arrays

    @property
    def n_inputs(self):
        return self.X_train.shape[1]

    @property
    def n_targets(self):
        return self.y_train.shape[1] if self.task == REGRESSION else 1


def check_test_fraction(value, problems):
    """``data.test_fraction``, for every dataset: 0 (no test split) up to, not including, 1."""
    if not is_fraction(value, zero=True):
        with problems.check():
            raise ConfigError(
                "data.test_fraction",
                value,
                "must be a number from 0 (no test split) up to, not including, 1",
            )


def is_fraction(value, zero=False):
    number = isinstance(value, (int, float)) and not isinstance(value, bool)
    return number and (0 <= value < 1 if zero else 0 < value < 1)


def is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def csv_path(cfg, base_dir):
    """``data.path`` resolved from the folder the run started in; a missing file is named."""
    if OmegaConf.is_missing(cfg, "path") or cfg.get("path") in (None, ""):
        raise ConfigError(
            "data.path", "???", "required for data=csv: the CSV file (e.g. data.path=iris.csv)"
        )
    given = Path(str(cfg.path)).expanduser()
    path = given if given.is_absolute() else Path(base_dir) / given
    if not path.is_file():
        where = "" if given.is_absolute() else f"; looked in {Path(base_dir).resolve()}"
        what = "is a folder, not a file" if path.is_dir() else "no such file"
        raise ConfigError("data.path", cfg.path, f"{what}{where}")
    return path
