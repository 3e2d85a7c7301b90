"""nncore against an independent implementation: PyTorch, same weights, float64."""

import numpy as np
import pytest

import nncore

pytestmark = pytest.mark.numerical

torch = pytest.importorskip("torch")


def _pair(sizes, seed=0):
    rng = np.random.default_rng(seed)
    weights = [
        rng.standard_normal((a, b)) * np.sqrt(2 / a) for a, b in zip(sizes, sizes[1:], strict=False)
    ]
    biases = [rng.standard_normal(b) * 0.1 for b in sizes[1:]]
    layers, modules = [], []
    for i, (w, b) in enumerate(zip(weights, biases, strict=True)):
        dense = nncore.Dense(*w.shape, dtype="float64")
        dense.weights[...], dense.biases[...] = w, b
        linear = torch.nn.Linear(*w.shape, dtype=torch.float64)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(w.T.copy()))
            linear.bias.copy_(torch.from_numpy(b))
        last = i == len(weights) - 1
        layers += [dense, nncore.Softmax() if last else nncore.ReLU()]
        modules += [linear] if last else [linear, torch.nn.ReLU()]
    return layers, torch.nn.Sequential(*modules)


def test_gradients_equal_torch():
    X, y = nncore.spiral(20, 3, seed=1, dtype="float64")
    layers, net = _pair((2, 16, 8, 3))
    model = nncore.Model(layers, nncore.CategoricalCrossentropy())
    model.backward(model.forward(X), y)
    loss = torch.nn.functional.cross_entropy(net(torch.from_numpy(X)), torch.from_numpy(y))
    loss.backward()
    for dense, linear in zip(model.trainable_layers, net[::2], strict=True):
        np.testing.assert_allclose(
            dense.dweights, linear.weight.grad.numpy().T, rtol=1e-10, atol=1e-12
        )
        np.testing.assert_allclose(
            dense.dbiases[0], linear.bias.grad.numpy(), rtol=1e-10, atol=1e-12
        )


@pytest.mark.parametrize("sweep_interval", [1, 64])
@pytest.mark.parametrize("batch_size", [None, 16])
def test_adam_training_matches_torch(batch_size, sweep_interval):
    """50 Adam steps (same order of batches) leave the same parameters and loss, also when the
    optimizer sweeps its state off the subnormal range after every step."""
    X, y = nncore.spiral(30, 3, seed=2, dtype="float64")
    layers, net = _pair((2, 32, 3), seed=3)
    model = nncore.Model(
        layers,
        nncore.CategoricalCrossentropy(),
        nncore.Adam(learning_rate=0.01, epsilon=1e-8),
        seed=0,
    )
    model.optimizer.max_sweep_interval = sweep_interval
    optimizer = torch.optim.Adam(net.parameters(), lr=0.01, eps=1e-8)
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)
    size = batch_size or len(X)
    for step in range(50):
        start = (step * size) % len(X)
        rows = slice(start, start + size)
        ours = model.train_step(X[rows], y[rows])
        optimizer.zero_grad()
        theirs = torch.nn.functional.cross_entropy(net(X_t[rows]), y_t[rows])
        theirs.backward()
        optimizer.step()
        assert ours["data_loss"] == pytest.approx(theirs.item(), rel=1e-9)
    for dense, linear in zip(model.trainable_layers, net[::2], strict=True):
        np.testing.assert_allclose(
            dense.weights, linear.weight.detach().numpy().T, rtol=1e-8, atol=1e-10
        )
