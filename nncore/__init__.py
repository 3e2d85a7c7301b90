"""nncore: a small, fast numpy neural-network library in the style of "Neural Networks from Scratch".

Everything public is importable from here: ``from nncore import Dense, ReLU, Model``.
"""

from nncore.activations import ACTIVATIONS, LeakyReLU, Linear, ReLU, Sigmoid, Softmax, Tanh
from nncore.datasets import DATASETS, blobs, circles, moons, sine, spiral, vertical
from nncore.layers import INITIALIZERS, LAYERS, Dense, Dropout
from nncore.losses import (
    LOSSES,
    BinaryCrossentropy,
    CategoricalCrossentropy,
    Loss,
    MeanAbsoluteError,
    MeanSquaredError,
    SoftmaxCategoricalCrossentropy,
    regularization_loss,
)
from nncore.metrics import (
    METRICS,
    BinaryAccuracy,
    CategoricalAccuracy,
    RegressionAccuracy,
    regression_scores,
)
from nncore.model import Model, default_accuracy
from nncore.optimizers import OPTIMIZERS, SGD, Adagrad, Adam, Optimizer, RMSprop
from nncore.registry import create, lookup

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "ACTIVATIONS",
    "DATASETS",
    "INITIALIZERS",
    "LAYERS",
    "LOSSES",
    "METRICS",
    "OPTIMIZERS",
    "SGD",
    "Adagrad",
    "Adam",
    "BinaryAccuracy",
    "BinaryCrossentropy",
    "CategoricalAccuracy",
    "CategoricalCrossentropy",
    "Dense",
    "Dropout",
    "LeakyReLU",
    "Linear",
    "Loss",
    "MeanAbsoluteError",
    "MeanSquaredError",
    "Model",
    "Optimizer",
    "RMSprop",
    "ReLU",
    "RegressionAccuracy",
    "regression_scores",
    "Sigmoid",
    "Softmax",
    "SoftmaxCategoricalCrossentropy",
    "Tanh",
    "blobs",
    "circles",
    "create",
    "default_accuracy",
    "lookup",
    "moons",
    "regularization_loss",
    "sine",
    "spiral",
    "vertical",
]
