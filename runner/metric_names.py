"""Which metrics a run records for its task, and which way each one is better.

Classification runs record accuracy; regression runs record RMSE, MAE and R² in its place
(accuracy means nothing for a continuous target). One place, so the run, the sweep's closing
table, compare, the report and the plots agree on names and directions.
"""

CLASSIFICATION, REGRESSION = "classification", "regression"
# per task: the scores logged beside the loss, for the training and the validation split
SCORES = {
    CLASSIFICATION: {"train": ("accuracy",), "val": ("accuracy",)},
    REGRESSION: {"train": ("rmse",), "val": ("rmse", "mae", "r2")},
}
# columns of a test split, evaluated once at the end, per task
TEST_SCORES = {CLASSIFICATION: ("accuracy",), REGRESSION: ("rmse", "mae", "r2")}
HIGHER_IS_BETTER = ("accuracy", "r2")  # every other metric (losses, rmse, mae) is an error


def higher_is_better(metric):
    """True for accuracies and R² (``val_accuracy``, ``best_val_accuracy``, ``test_r2``)."""
    return str(metric).rsplit("_", 1)[-1] in HIGHER_IS_BETTER or "accuracy" in str(metric)


def score_columns(task, split):
    """``score_columns("regression", "val")`` -> ["val_rmse", "val_mae", "val_r2"]."""
    names = TEST_SCORES[task] if split == "test" else SCORES[task][split]
    return [f"{split}_{name}" for name in names]


def headline(task, split="val"):
    """The score shown beside the loss: val_accuracy, or val_rmse for regression."""
    return score_columns(task, split)[0]


def task_of_columns(columns):
    """The task of a metrics.csv or summary from its columns: regression when it has RMSE."""
    return REGRESSION if any(str(c).endswith("_rmse") for c in columns) else CLASSIFICATION
