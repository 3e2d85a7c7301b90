"""W1 spiral-small: time per epoch of the book's 2-64-3 spiral network, full batch, Adam.

    python bench/spiral_small.py [--epochs 1000] [--repeats 5]

Prints a markdown table: nncore float32 and float64, and PyTorch CPU eager on the same data
and initial weights when torch is installed (``pip install torch==2.13.0``). Repeats are
interleaved across implementations so a noisy machine slows all of them alike; the ratio
column is the median of per-round ratios to torch.
"""

import argparse
import statistics
import time

import numpy as np

import nncore


def _data_and_weights(dtype):
    X, y = nncore.spiral(100, 3, seed=0, dtype=dtype)
    rng = np.random.default_rng(1)
    w1 = (0.01 * rng.standard_normal((2, 64))).astype(dtype)
    w2 = (0.01 * rng.standard_normal((64, 3))).astype(dtype)
    return X, y, w1, w2


def nncore_trainer(dtype):
    X, y, w1, w2 = _data_and_weights(dtype)
    dense1, dense2 = nncore.Dense(2, 64, dtype=dtype), nncore.Dense(64, 3, dtype=dtype)
    model = nncore.Model(
        [dense1, nncore.ReLU(), dense2, nncore.Softmax()],
        nncore.CategoricalCrossentropy(),
        nncore.Adam(learning_rate=0.05, decay=5e-7),
        seed=0,
    )
    dense1.weights[...], dense2.weights[...] = w1, w2
    X, y = model.prepare(X, y)

    def train(epochs):
        for _ in range(epochs):
            stats = model.train_step(X, y)
        return stats["accuracy"]

    return train


def torch_trainer():
    import torch

    torch.set_num_threads(2)
    X, y, w1, w2 = _data_and_weights("float32")
    net = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.ReLU(), torch.nn.Linear(64, 3))
    with torch.no_grad():
        net[0].weight.copy_(torch.from_numpy(w1.T.copy()))
        net[2].weight.copy_(torch.from_numpy(w2.T.copy()))
        net[0].bias.zero_()
        net[2].bias.zero_()
    optimizer = torch.optim.Adam(net.parameters(), lr=0.05, eps=1e-7)
    loss_fn = torch.nn.CrossEntropyLoss()
    X_t, y_t = torch.from_numpy(X), torch.from_numpy(y)

    def train(epochs):
        for _ in range(epochs):
            optimizer.zero_grad(set_to_none=True)
            logits = net(X_t)
            loss = loss_fn(logits, y_t)
            loss.backward()
            optimizer.step()
        return float((logits.argmax(1) == y_t).float().mean())

    return train


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    makers = {
        "nncore float32": lambda: nncore_trainer("float32"),
        "nncore float64": lambda: nncore_trainer("float64"),
    }
    try:
        import torch  # noqa: F401

        makers["torch eager (2 threads)"] = torch_trainer
    except ImportError:
        print("(torch not installed: pip install torch==2.13.0 to add the PyTorch row)\n")

    times = {name: [] for name in makers}
    accuracy = {}
    for _ in range(args.repeats):
        for name, make in makers.items():
            train = make()
            train(20)  # warm-up: buffers, caches, torch's allocator
            train = make()
            start = time.perf_counter()
            accuracy[name] = train(args.epochs)
            times[name].append((time.perf_counter() - start) / args.epochs)
            time.sleep(1.0)  # OpenBLAS workers spin ~1 s after the last call and slow torch down

    reference = times.get("torch eager (2 threads)")
    print(
        f"W1 spiral-small: spiral(100, 3), 2-64-3, full batch, Adam(0.05), {args.epochs} epochs, "
        f"{args.repeats} interleaved repeats\n"
    )
    print("| implementation | time/epoch median [min – max] | × torch | train acc |")
    print("|---|---|---|---|")
    for name, samples in times.items():
        ratio = "–"
        if reference:
            ratio = (
                f"{statistics.median(a / b for a, b in zip(samples, reference, strict=True)):.2f}"
            )
        spread = f"{statistics.median(samples) * 1e6:.1f} µs [{min(samples) * 1e6:.1f} – {max(samples) * 1e6:.1f}]"
        print(f"| {name} | {spread} | {ratio} | {accuracy[name]:.3f} |")
    try:
        from threadpoolctl import threadpool_info

        blas = [
            f"{i['internal_api']} {i.get('version')} {i.get('architecture')} x{i['num_threads']}"
            for i in threadpool_info()
        ]
        print(f"\nthreadpools: {'; '.join(blas)}")
    except ImportError:
        pass


if __name__ == "__main__":
    main()
