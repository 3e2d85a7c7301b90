"""Where a training step's time goes, phase by phase, for W1-W3 (see bench/speed.py).

    python bench/profile_step.py [W1 W2 W3] [--epochs 2] [--drift W3] [--drift-epochs 10]

Wraps every layer's forward and backward, the loss, the fused backward, the batch gather and
the optimizer step of a real ``Model.train_epoch`` with timers, and sets the total against the
GEMM floor: the same matrix products timed on their own, back to back.

Then, for the ``--drift`` workloads, trains a fresh model for ``--drift-epochs`` epochs without
timers and prints every epoch's time, the last epoch's over the first, and the share of
subnormal values in parameters and optimizer state at the end: a step that slows down as
training goes on (state decaying into subnormal floats) shows as a ratio above 1.
"""

import argparse
import os
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
import speed  # noqa: E402

import nncore  # noqa: E402


def instrument(model, totals):
    """Replace the hot methods of ``model`` by timed wrappers that add into ``totals``."""

    def timed(obj, method, label):
        original = getattr(obj, method)

        def wrapper(*args, **kwargs):
            start = time.perf_counter()
            result = original(*args, **kwargs)
            totals[label] += time.perf_counter() - start
            return result

        setattr(obj, method, wrapper)

    for i, layer in enumerate(model.layers):
        name = f"{i} {type(layer).__name__}"
        if isinstance(layer, nncore.Dense):
            name += f" {layer.n_inputs}x{layer.n_neurons}"
        timed(layer, "forward", f"forward  {name}")
        timed(layer, "backward", f"backward {name}")
    timed(model.loss, "mean", "loss value")
    timed(model._fused, "gradient", "softmax + cross-entropy backward")
    timed(model.optimizer, "step", "Adam step")
    original_batches = model.batches

    def timed_batches(*args, **kwargs):
        iterator = original_batches(*args, **kwargs)
        while True:
            start = time.perf_counter()
            try:
                batch = next(iterator)
            except StopIteration:
                return
            finally:
                totals["batch shuffle + gather"] += time.perf_counter() - start
            yield batch

    model.batches = timed_batches


def gemm_floor(model, batch):
    """Time of the step's matrix products alone, each measured on its own (best of 20)."""
    rng = np.random.default_rng(0)
    total = 0.0
    for i, layer in enumerate(model.trainable_layers):
        x = rng.random((batch, layer.n_inputs), dtype=np.float32)
        d = rng.random((batch, layer.n_neurons), dtype=np.float32)
        w = layer.weights
        products = [(x, w), (x.T, d)] + ([(d, w.T)] if i > 0 else [])
        for a, b in products:
            out = np.empty((a.shape[0], b.shape[1]), np.float32)
            np.matmul(a, b, out=out)
            total += min(
                _time(lambda a=a, b=b, out=out: np.matmul(a, b, out=out)) for _ in range(20)
            )
    return total


def _time(f):
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


def profile(name, epochs):
    X, y = speed.load_data(name)
    spec = speed.WORKLOADS[name]
    run = speed.NncoreRun(spec, name, X, y)
    run.train(1)  # warm-up
    totals = defaultdict(float)
    instrument(run.model, totals)
    batches = -(-len(X) // spec["batch"]) if spec["batch"] else 1
    start = time.perf_counter()
    run.train(epochs)
    wall = time.perf_counter() - start
    steps = batches * epochs
    per_step = wall / steps
    measured = sum(totals.values())
    floor = gemm_floor(run.model, spec["batch"] or len(X))
    print(
        f"\n### {spec['title']}: {steps} steps, {per_step * 1e6:.0f} µs per step "
        f"({wall / epochs * 1e3:.0f} ms per epoch)\n"
    )
    print("| phase | µs per step | share |")
    print("|---|---|---|")
    rows = sorted(totals.items(), key=lambda item: -item[1])
    for label, seconds in rows:
        print(f"| {label} | {seconds / steps * 1e6:.1f} | {100 * seconds / wall:.1f}% |")
    print(
        f"| rest: Python, per-step sums, batch copies inside the loop | "
        f"{(wall - measured) / steps * 1e6:.1f} | {100 * (wall - measured) / wall:.1f}% |"
    )
    flops = 6 * speed.parameters(spec["sizes"]) * (spec["batch"] or len(X))
    print(
        f"\nGEMM floor: the step's products alone take {floor * 1e6:.0f} µs "
        f"({flops / floor / 1e9:.0f} GFLOP/s); the step takes {per_step / floor:.2f}x that."
    )


def drift(name, epochs):
    """Per-epoch times of one uninstrumented run, the last over the first, and the subnormals."""
    X, y = speed.load_data(name)
    spec = speed.WORKLOADS[name]
    run = speed.NncoreRun(spec, name, X, y)
    load_before = os.getloadavg()[0]
    seconds, cpu = [], []
    for _ in range(epochs):
        start, start_cpu = time.perf_counter(), time.process_time()
        run.train(1)
        seconds.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
    load = max(load_before, os.getloadavg()[0])
    (params, n_params), (state, n_state) = run.subnormals()
    print(f"\n### {spec['title']}: {epochs} epochs from fresh weights\n")
    print("| epoch | " + " | ".join(str(i + 1) for i in range(epochs)) + " |")
    print("|---" * (epochs + 1) + "|")
    print("| wall seconds | " + " | ".join(f"{t:.3f}" for t in seconds) + " |")
    print("| CPU seconds | " + " | ".join(f"{t:.3f}" for t in cpu) + " |")
    print(
        f"\nLast epoch over first: {seconds[-1] / seconds[0]:.2f} wall, {cpu[-1] / cpu[0]:.2f} "
        f"CPU (this process's CPU time moves less than wall time when others share the CPUs). "
        f"Subnormal at the end: {100 * params:.2f}% of {n_params} parameters, "
        f"{100 * state:.2f}% of {n_state} optimizer state values."
    )
    cpus = os.cpu_count() or 1
    if load > 0.5 * cpus:
        print(
            f"Load average up to {load:.1f} on {cpus} CPUs during the run: other processes "
            "shared the CPUs, so these times are noisy."
        )
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workloads", nargs="*", default=["W2", "W3"])
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--drift", nargs="*", default=["W3"], help="workloads to run long")
    parser.add_argument("--drift-epochs", type=int, default=10)
    args = parser.parse_args()
    for name in args.workloads if args.epochs > 0 else ():  # --epochs 0: drift only
        profile(name, args.epochs)
    if args.drift_epochs > 1:
        for name in args.drift:
            drift(name, args.drift_epochs)


if __name__ == "__main__":
    main()
