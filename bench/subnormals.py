"""What keeping optimizer state off subnormal floats costs, option by option.

    python bench/subnormals.py [--rounds 7] [--steps 64]

An optimizer step on a flat parameter of W1's size (387 values) and W3's (235 146), from a
state that is normal, or "subnormal-heavy": 30% of the values belong to dead units (zero
gradient) whose state is subnormal, as after some hundreds of steps of a real run. Each
sample times a block of ``--steps`` steps from a fresh copy of that state and reports µs per
step, so an option that sweeps every k steps pays for its sweep inside the block. Times are
this process's CPU time (the work is single-threaded), which moves less than wall time when
other processes share the CPUs. Rounds are interleaved (each runs every option once) and the
table shows median [min – max] over rounds and, in brackets after it, the median over rounds
of the ratio to "none" for the same optimizer and case.

Options for Adam:
  none                 Adam's passes alone, no sweeps (what nncore did before issue 30)
  flush in every step  the passes, then |m| < smallest normal and v < smallest normal set
                       to zero by multiplying with a 0/1 mask: five more passes each step
  sweep every step     nncore's sweep after every step (max_sweep_interval = 1)
  sweep every 8 / 64   nncore's sweep every 8 / 64 steps (64 is nncore's default)
and, for RMSprop, Adagrad and SGD with momentum 0.9: none against nncore's default sweeps.
"""

import argparse
import os
import statistics
import time

import numpy as np

import nncore
from nncore.optimizers import _adam_passes, adam_scalars

SIZES = {"W1": 387, "W3": 235_146}
DEAD = 0.3  # share of values whose gradient is zero and whose state starts subnormal


class Flat:
    """One flat parameter and its gradient, shaped like a layer to an optimizer."""

    def __init__(self, n, seed=0):
        rng = np.random.default_rng(seed)
        self.value = rng.standard_normal(n).astype(np.float32) * 0.05
        self.grad = (rng.standard_normal(n) * 1e-3).astype(np.float32)
        self.dead = rng.random(n) < DEAD
        self.grad[self.dead] = 0
        self.params = [(self.value, self.grad)]


def initial_state(flat, signed, heavy, seed=1):
    """One array per slot at typical magnitudes (``signed``: a momentum or first moment, else a
    cache of squares); with ``heavy``, the dead units' state is subnormal."""
    rng = np.random.default_rng(seed)
    n = flat.value.size
    states = []
    for can_be_negative in signed:
        if can_be_negative:
            state = (rng.standard_normal(n) * 1e-4).astype(np.float32)
            dead = 1e-39 * np.sign(rng.standard_normal(n))
        else:
            state = (rng.random(n) * 1e-6).astype(np.float32)
            dead = np.full(n, 3e-40)
        if heavy:
            state[flat.dead] = dead[flat.dead]
        states.append(state)
    return states


class HandFlush:
    """Adam's ten passes, then a flush of both moments to zero in every step."""

    def __init__(self, n):
        self.m = np.zeros(n, np.float32)
        self.v = np.zeros(n, np.float32)
        self.scratch = np.zeros(n, np.float32)
        self.tiny = np.finfo(np.float32).smallest_normal
        self.t = 0

    def step(self, flat):
        self.t += 1
        epsilon, step_size = adam_scalars(1e-3, 0.9, 0.999, 1e-8, self.t)
        _adam_passes(
            flat.value, flat.grad, self.m, self.v, self.scratch, 0.9, 0.999, epsilon, step_size
        )
        np.abs(self.m, out=self.scratch)
        np.greater_equal(self.scratch, self.tiny, out=self.scratch)
        self.m *= self.scratch
        np.greater_equal(self.v, self.tiny, out=self.scratch)
        self.v *= self.scratch


def nncore_option(cls, interval, **kwargs):
    def make(n):
        optimizer = cls(**kwargs)
        optimizer.max_sweep_interval = interval
        return optimizer

    return make


ADAM_OPTIONS = {
    "none": nncore_option(nncore.Adam, None, epsilon=1e-8),
    "flush in every step": HandFlush,
    "sweep every step": nncore_option(nncore.Adam, 1, epsilon=1e-8),
    "sweep every 8 steps": nncore_option(nncore.Adam, 8, epsilon=1e-8),
    "sweep every 64 steps (nncore)": nncore_option(nncore.Adam, 64, epsilon=1e-8),
}
OTHER_OPTIONS = {
    f"{label}, {option}": nncore_option(cls, interval, **kwargs)
    for label, cls, kwargs in (
        ("RMSprop", nncore.RMSprop, {}),
        ("Adagrad", nncore.Adagrad, {}),
        ("SGD momentum 0.9", nncore.SGD, {"learning_rate": 0.1, "momentum": 0.9}),
    )
    for option, interval in (("none", None), ("sweeps (nncore)", 64))
}


def block(make, n, heavy, steps):
    """(µs per step over ``steps`` steps of a fresh optimizer from the given state, subnormal
    state values left at the end)."""
    flat = Flat(n)
    optimizer = make(n)
    if isinstance(optimizer, HandFlush):
        slots, signed, target = [optimizer.m, optimizer.v], [True, False], flat
    else:
        slots = optimizer.state(flat.value)
        signed = [s for _, s in optimizer._slot_decays()]
        target = [flat]
        # the first sweep comes right after the first step, then every interval steps
        interval = optimizer.sweep_interval
        optimizer.iterations = 10 * interval - 1 if interval else 10
    for slot, state in zip(slots, initial_state(flat, signed, heavy), strict=True):
        slot[...] = state
    start = time.process_time()
    for _ in range(steps):
        optimizer.step(target)
    elapsed = time.process_time() - start
    return elapsed / steps * 1e6, sum(_subnormals(slot) for slot in slots)


def _subnormals(array):
    magnitude = np.abs(array)
    return int(
        np.count_nonzero((magnitude > 0) & (magnitude < np.finfo(array.dtype).smallest_normal))
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=64)
    args = parser.parse_args()
    options = {**ADAM_OPTIONS, **OTHER_OPTIONS}
    cases = [(size, heavy) for size in SIZES for heavy in (False, True)]
    samples = {(name, case): [] for name in options for case in cases}
    left = {}
    for make in options.values():  # warm-up
        block(make, SIZES["W1"], False, 4)
    for _ in range(args.rounds):
        for case in cases:
            for name, make in options.items():
                micros, left[name, case] = block(make, SIZES[case[0]], case[1], args.steps)
                samples[name, case].append(micros)
    print(
        f"CPU µs per optimizer step, median [min – max] of {args.rounds} interleaved rounds of "
        f"{args.steps} steps each (median ratio to 'none' of the same optimizer); 'left' is the "
        "number of subnormal state values after the block."
    )
    print(f"Load average now: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs.\n")
    header = " | ".join(
        f"{size} {'subnormal-heavy' if heavy else 'normal'}" for size, heavy in cases
    )
    print(f"| option | {header} |")
    print("|---" * (len(cases) + 1) + "|")
    for name in options:
        cells = []
        base = name.split(", ")[0] + ", none" if ", " in name else "none"
        for case in cases:
            values = samples[name, case]
            ratio = statistics.median(
                a / b for a, b in zip(values, samples[base, case], strict=True)
            )
            cell = (
                f"{statistics.median(values):.1f} [{min(values):.1f} – {max(values):.1f}] "
                f"({ratio:.2f}x)"
            )
            if case[1]:
                cell += f", left {left[name, case]}"
            cells.append(cell)
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
