"""A sequential model: layers, a loss, an optimizer and an accuracy metric.

Training reports plain dicts of numbers and prints nothing. Parameters of all trainable
layers are packed into one flat buffer (each layer keeps views into it), so an optimizer
step is a handful of numpy calls whatever the depth of the network.
"""

import math
import zipfile
import zlib

import numpy as np

from nncore._arrays import Buffers, as_generator
from nncore.activations import Softmax
from nncore.losses import (
    BinaryCrossentropy,
    CategoricalCrossentropy,
    SoftmaxCategoricalCrossentropy,
    regularization_loss,
)
from nncore.metrics import BinaryAccuracy, CategoricalAccuracy, RegressionAccuracy

# Evaluation and prediction go through at most this many rows at a time, so their buffers stay
# small however large the data (a full-batch pass over 60000 x 784 would hold ~300 MB).
EVAL_ROWS = 2048


def default_accuracy(loss):
    """The accuracy that goes with ``loss``: categorical, binary or regression."""
    if isinstance(loss, CategoricalCrossentropy):
        return CategoricalAccuracy()
    if isinstance(loss, BinaryCrossentropy):
        return BinaryAccuracy()
    return RegressionAccuracy()


class _FlatParameters:
    """All trainable parameters as one (parameter, gradient) pair of flat arrays."""

    def __init__(self, layers, dtype):
        pairs = [(layer, names) for layer in layers for names in layer.param_names]
        total = sum(getattr(layer, p).size for layer, (p, _) in pairs)
        self.values = np.empty(total, dtype=dtype)
        self.grads = np.zeros(total, dtype=dtype)
        offset = 0
        for layer, (p, g) in pairs:
            array = getattr(layer, p)
            end = offset + array.size
            self.values[offset:end] = array.ravel()
            setattr(layer, p, self.values[offset:end].reshape(array.shape))
            setattr(layer, g, self.grads[offset:end].reshape(array.shape))
            offset = end
        self.params = [(self.values, self.grads)]


class Model:
    """Sequential network.

    layers: e.g. ``[Dense(2, 64), ReLU(), Dense(64, 3), Softmax()]``; loss and optimizer
    instances from nncore; accuracy defaults to the one matching the loss; seed drives the
    per-epoch shuffling. A network ending in Softmax trained with CategoricalCrossentropy
    uses the fused backward ``(p - y) / n``. Each layer belongs to one model.
    """

    def __init__(self, layers, loss, optimizer=None, accuracy=None, seed=None):
        self.layers = list(layers)
        if not self.layers:
            raise ValueError("a model needs at least one layer")
        self.trainable_layers = [layer for layer in self.layers if hasattr(layer, "params")]
        if not self.trainable_layers:
            raise ValueError("a model needs at least one layer with parameters (e.g. Dense)")
        _check_connections(self.layers)
        dtypes = {layer.dtype for layer in self.trainable_layers}
        if len(dtypes) > 1:
            raise ValueError(
                f"all layers must share one dtype, got {sorted(d.__name__ for d in dtypes)}"
            )
        self.dtype = dtypes.pop()
        self.n_inputs = self.trainable_layers[0].n_inputs
        self.n_outputs = self.trainable_layers[-1].n_neurons
        self.loss = loss
        self.optimizer = optimizer
        self.accuracy = accuracy if accuracy is not None else default_accuracy(loss)
        self.rng = as_generator(seed)
        fused = isinstance(self.layers[-1], Softmax) and isinstance(loss, CategoricalCrossentropy)
        self._fused = SoftmaxCategoricalCrossentropy() if fused else None
        # Backward runs from the last layer (the one before Softmax when fused) down to the
        # first trainable layer; layers before it need no gradient, nor does its input.
        first = self.layers.index(self.trainable_layers[0])
        last = len(self.layers) - (2 if fused else 1)
        self._backward_layers = self.layers[first : last + 1][::-1]
        self.trainable_layers[0].need_dinputs = False
        self._flat = _FlatParameters(self.trainable_layers, self.dtype)
        self._batches = Buffers()
        self._prepared = (None, None, None, None)  # (X, y) as given, and as checked
        # The accuracy can score the loss's checked targets when both check them alike.
        self._accuracy_unchecked = self.accuracy.targets is self.loss.targets

    def __repr__(self):
        return f"Model({self.layers}, loss={self.loss!r}, optimizer={self.optimizer!r})"

    @property
    def n_parameters(self):
        return self._flat.values.size

    def parameters(self):
        """Every trainable parameter as one flat array (n_parameters,): the buffer the layers
        view, so it is current after every step; read it, do not resize it."""
        return self._flat.values

    def forward(self, X, training=False):
        """X: (n_samples, n_inputs) -> output of the last layer (its buffer; copy to keep)."""
        for layer in self.layers:
            X = layer.forward(X, training=training)
        return X

    def backward(self, output, y):
        """Backpropagate the loss of ``output`` against ``y`` into every layer's gradients."""
        self._backward(output, self.loss.targets(output, y))

    def _backward(self, output, y):
        if self._fused is not None:
            dvalues = self._fused.gradient(output, y)
        else:
            dvalues = self.loss.gradient(output, y)
        for layer in self._backward_layers:
            dvalues = layer.backward(dvalues)

    def train_step(self, X, y):
        """One forward, backward and optimizer step on a batch -> dict of numbers."""
        return self._step(*self.prepare(X, y), with_accuracy=True)

    def _step(self, X, y, with_accuracy):
        """train_step for checked data; accuracy is NaN unless asked for (it costs a pass)."""
        if self.optimizer is None:
            raise ValueError("this model has no optimizer; pass optimizer=... to train it")
        output = self.forward(X, training=True)
        data_loss = self.loss.mean(output, y)
        reg_loss = regularization_loss(self.trainable_layers)
        accuracy = self._score(output, y) if with_accuracy else math.nan
        self._backward(output, y)
        self.optimizer.step([self._flat])
        return _stats(data_loss, reg_loss, accuracy)

    def train_epoch(self, X, y, batch_size=None, shuffle=True, accuracy=True):
        """One pass over (X, y) in minibatches -> dict of sample-weighted means over the epoch.

        ``accuracy=False`` skips the training accuracy (reported as NaN) for epochs nobody logs.
        """
        X, y = self.prepare(X, y)
        _init_accuracy(self.accuracy, y)
        loss_sum = reg_sum = accuracy_sum = 0.0
        for X_batch, y_batch in self.batches(X, y, batch_size, shuffle):
            step = self._step(X_batch, y_batch, accuracy)
            loss_sum += step["data_loss"] * len(X_batch)
            reg_sum += step["regularization_loss"] * len(X_batch)
            accuracy_sum += step["accuracy"] * len(X_batch)
        n = len(X)
        return _stats(loss_sum / n, reg_sum / n, accuracy_sum / n)

    def evaluate(self, X, y, batch_size=None):
        """Loss and accuracy of the current parameters, no training -> dict of numbers.

        Goes through the data ``batch_size`` rows at a time (at most EVAL_ROWS).
        """
        X, y = self.prepare(X, y)
        _init_accuracy(self.accuracy, y)
        loss_sum = accuracy_sum = 0.0
        for X_batch, y_batch in self.batches(X, y, _eval_rows(batch_size), shuffle=False):
            output = self.forward(X_batch, training=False)
            loss_sum += float(np.sum(self.loss.sample_losses(output, y_batch)))
            accuracy_sum += self._score(output, y_batch) * len(X_batch)
        n = len(X)
        return _stats(loss_sum / n, regularization_loss(self.trainable_layers), accuracy_sum / n)

    def _score(self, output, y):
        if self._accuracy_unchecked:
            return self.accuracy.score(output, y)
        return self.accuracy.calculate(output, y)

    def fit(self, X, y, epochs, batch_size=None, shuffle=True, validation_data=None):
        """Train for ``epochs`` epochs -> list of per-epoch dicts (``val_*`` keys with validation)."""
        history = []
        for epoch in range(1, epochs + 1):
            row = {"epoch": epoch, **self.train_epoch(X, y, batch_size, shuffle)}
            if validation_data is not None:
                val = self.evaluate(*validation_data, batch_size=batch_size)
                row.update({f"val_{key}": value for key, value in val.items()})
            history.append(row)
        return history

    def predict(self, X, batch_size=None):
        """Outputs of the last layer for X: (n_samples, n_outputs), a new array."""
        X = self._prepare_inputs(X)
        rows = _eval_rows(batch_size)
        if rows >= len(X):
            return self.forward(X).copy()
        return np.concatenate(
            [self.forward(X[i : i + rows]).copy() for i in range(0, len(X), rows)]
        )

    def batches(self, X, y, batch_size=None, shuffle=False):
        """Yield (X_batch, y_batch); shuffled each call from the model's Generator if asked.

        Batches are gathered into reused buffers: use each before asking for the next.
        """
        n = len(X)
        if batch_size is None or batch_size >= n:
            yield X, y
            return
        if not shuffle:
            for start in range(0, n, batch_size):
                yield X[start : start + batch_size], y[start : start + batch_size]
            return
        order = self.rng.permutation(n)
        for start in range(0, n, batch_size):
            index = order[start : start + batch_size]
            X_batch = self._batches.get("X", (len(index),) + X.shape[1:], X.dtype)
            y_batch = self._batches.get("y", (len(index),) + y.shape[1:], y.dtype)
            np.take(X, index, axis=0, out=X_batch)
            np.take(y, index, axis=0, out=y_batch)
            yield X_batch, y_batch

    def prepare(self, X, y):
        """Check and convert (X, y): X to the model's dtype, y to the form the loss takes.

        Done once per data set: asking again with the very same arrays (every epoch does)
        returns the earlier result without checking again.
        """
        given_X, given_y, checked_X, checked_y = self._prepared
        if X is given_X and y is given_y:
            return checked_X, checked_y
        checked_X = self._prepare_inputs(X)
        shape_only = np.broadcast_to(np.zeros((), self.dtype), (len(checked_X), self.n_outputs))
        checked_y = self.loss.targets(shape_only, y)
        self._prepared = (X, y, checked_X, checked_y)
        return checked_X, checked_y

    def _prepare_inputs(self, X):
        X = np.asarray(X, dtype=self.dtype)
        if X.ndim != 2 or X.shape[1] != self.n_inputs:
            raise ValueError(f"inputs must have shape (n_samples, {self.n_inputs}), got {X.shape}")
        return X

    def save(self, path):
        """Write the parameters to an ``.npz`` file (keys ``layer{i}.weights`` etc.)."""
        arrays = {}
        for i, layer in enumerate(self.layers):
            for name, _ in getattr(layer, "param_names", ()):
                arrays[f"layer{i}.{name}"] = getattr(layer, name)
        with open(path, "wb") as file:
            np.savez(file, **arrays)

    def load(self, path):
        """Read parameters written by ``save`` into this model's layers: all or nothing.

        Every array is checked (present, same shape, finite) before any layer changes, so a
        file from another model leaves this one as it was. Object arrays are refused
        (``allow_pickle=False``): loading a file never runs code from it.
        """
        loaded = []
        with _parameters_file(path) as stored:
            for i, layer in enumerate(self.layers):
                for name, _ in getattr(layer, "param_names", ()):
                    key = f"layer{i}.{name}"
                    if key not in stored:
                        raise ValueError(
                            f"{path} has no '{key}'; it was saved from a different model"
                        )
                    target = getattr(layer, name)
                    value = stored.read(key)
                    if value.shape != target.shape:
                        raise ValueError(
                            f"{path}: '{key}' has shape {value.shape}, this model needs {target.shape}"
                        )
                    if not np.issubdtype(value.dtype, np.number) or not np.isfinite(value).all():
                        raise ValueError(f"{path}: '{key}' holds non-finite or non-numeric values")
                    loaded.append((target, value))
        for target, value in loaded:
            target[...] = value


class _parameters_file:
    """An ``.npz`` written by ``Model.save``, opened for reading; a file that is not one (cut
    short, garbled, another format) is a ValueError saying so. numpy's own message for such a
    file suggests loading it with pickle, which would run code from it: never shown."""

    _DAMAGED = (ValueError, EOFError, zipfile.BadZipFile, zlib.error)

    def __init__(self, path):
        self.path = path
        try:
            self._stored = np.load(path, allow_pickle=False)
        except self._DAMAGED as error:
            raise self._damaged(error, "not an .npz archive") from None
        if not isinstance(self._stored, np.lib.npyio.NpzFile):  # a single .npy array
            raise ValueError(f"{path} is not a parameters file (an .npz archive of arrays)")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._stored.close()
        return False

    def __contains__(self, key):
        return key in self._stored

    def read(self, key):
        try:
            return self._stored[key]
        except self._DAMAGED as error:
            raise self._damaged(error, f"'{key}' holds objects, not numbers") from None

    def _damaged(self, error, if_pickled):
        why = if_pickled if "pickle" in str(error) else str(error) or type(error).__name__
        return ValueError(f"{self.path} is damaged or not a parameters file ({why})")


def _eval_rows(batch_size):
    return EVAL_ROWS if batch_size is None else min(batch_size, EVAL_ROWS)


def _check_connections(layers):
    previous = None
    for i, layer in enumerate(layers):
        if not hasattr(layer, "n_inputs"):
            continue
        if previous is not None and previous.n_neurons != layer.n_inputs:
            raise ValueError(
                f"layer {i} {layer!r} expects {layer.n_inputs} inputs but the layer before it "
                f"gives {previous.n_neurons}"
            )
        previous = layer


def _init_accuracy(accuracy, y):
    if isinstance(accuracy, RegressionAccuracy):
        accuracy.init(y)


def _stats(data_loss, reg_loss, accuracy):
    return {
        "loss": data_loss + reg_loss,
        "data_loss": data_loss,
        "regularization_loss": reg_loss,
        "accuracy": accuracy,
    }
