"""nncore against PyTorch eager and scikit-learn on the same work, measured in one process run.

    python bench/speed.py                      # print the tables
    python bench/speed.py --write BENCHMARKS.md  # and replace the speed section of that file
    python bench/speed.py --quick              # a smoke run: few epochs, one repeat

Workloads (float32, Adam(beta 0.9/0.999, epsilon 1e-8), same data and initial weights for
nncore and torch; scikit-learn uses its own Glorot init, which does not change its speed):
  W1 spiral-small  spiral(100, 3), 2-64-3, full batch, learning rate 0.05
  W2 spiral-wide   spiral(1000, 3), 2-512-512-3, minibatch 128, learning rate 1e-3
  W3 mnist-like    60000 x 784 random, 10 classes, 784-256-128-10, minibatch 128, 1e-3
  F1, F3           forward pass + loss + accuracy only, on W1's and W3's data
  R1               `python -m runner trainer.epochs=0` against a minimal Hydra app
Timings are medians of interleaved repeats (each round runs every implementation once), each
sample taken when other processes leave the CPUs quiet and retried if they disturbed it;
"x torch" is the median of per-round ratios. GFLOP/s counts 6 x parameters x samples per
epoch (2 forward, 4 backward per parameter and sample). Peers need the [bench] extra.
"""

import argparse
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import nncore

ROOT = Path(__file__).resolve().parent.parent
START, END = "<!-- speed:start -->", "<!-- speed:end -->"
WORKLOADS = {
    "W1": dict(
        title="W1 spiral-small", sizes=(2, 64, 3), batch=None, lr=0.05, epochs=1000, repeats=5
    ),
    "W2": dict(
        title="W2 spiral-wide", sizes=(2, 512, 512, 3), batch=128, lr=1e-3, epochs=3, repeats=5
    ),
    "W3": dict(
        title="W3 mnist-like", sizes=(784, 256, 128, 10), batch=128, lr=1e-3, epochs=2, repeats=5
    ),
}


def load_data(name):
    if name == "W1":
        return nncore.spiral(100, 3, seed=0)
    if name == "W2":
        return nncore.spiral(1000, 3, seed=0)
    rng = np.random.default_rng(0)
    return rng.random((60000, 784), dtype=np.float32), rng.integers(0, 10, 60000)


def initial_weights(sizes, name):
    """The book's 0.01 * N(0, 1) for W1, He normal for the wide and deep networks."""
    rng = np.random.default_rng(1)
    weights = []
    for n_in, n_out in zip(sizes, sizes[1:], strict=False):
        scale = 0.01 if name == "W1" else np.sqrt(2.0 / n_in)
        weights.append((scale * rng.standard_normal((n_in, n_out))).astype(np.float32))
    return weights


def subnormal_share(arrays):
    """Share of the values in ``arrays`` that are subnormal (non-zero, below the smallest
    normal number of their dtype), and how many values there are."""
    count = total = 0
    for array in arrays:
        magnitude = np.abs(array)
        tiny = np.finfo(magnitude.dtype).smallest_normal
        count += int(np.count_nonzero((magnitude > 0) & (magnitude < tiny)))
        total += magnitude.size
    return count / max(total, 1), total


# ---------------------------------------------------------------- implementations


class NncoreRun:
    label = "nncore"

    def __init__(self, spec, name, X, y):
        layers = []
        for i, w in enumerate(initial_weights(spec["sizes"], name)):
            dense = nncore.Dense(*w.shape)
            dense.weights[...] = w
            last = i == len(spec["sizes"]) - 2
            layers += [dense, nncore.Softmax() if last else nncore.ReLU()]
        optimizer = nncore.Adam(learning_rate=spec["lr"], epsilon=1e-8)
        self.model = nncore.Model(layers, nncore.CategoricalCrossentropy(), optimizer, seed=0)
        self.X, self.y = self.model.prepare(X, y)
        self.batch = spec["batch"]

    def train(self, epochs):
        # no training accuracy, like the torch loop (and the runner on epochs it does not log)
        for _ in range(epochs):
            self.model.train_epoch(self.X, self.y, batch_size=self.batch, accuracy=False)

    def forward(self):
        return self.model.evaluate(self.X, self.y)

    def subnormals(self):
        """(share in parameters, share in optimizer state), each with its number of values."""
        params = self.model.parameters()
        return subnormal_share([params]), subnormal_share(self.model.optimizer.state(params))

    def accuracy(self):
        return self.model.evaluate(self.X, self.y)["accuracy"]


class TorchRun:
    label = "torch eager, Adam(fused=True)"

    def __init__(self, spec, name, X, y):
        import torch

        torch.set_num_threads(os.cpu_count() or 1)
        torch.manual_seed(0)
        modules = []
        weights = initial_weights(spec["sizes"], name)
        for i, w in enumerate(weights):
            linear = torch.nn.Linear(*w.shape)
            with torch.no_grad():
                linear.weight.copy_(torch.from_numpy(w.T.copy()))
                linear.bias.zero_()
            modules.append(linear)
            if i < len(weights) - 1:
                modules.append(torch.nn.ReLU())
        self.torch = torch
        self.net = torch.nn.Sequential(*modules)
        self.optimizer = torch.optim.Adam(
            self.net.parameters(), lr=spec["lr"], eps=1e-8, fused=True
        )
        self.loss = torch.nn.CrossEntropyLoss()
        self.X, self.y = torch.from_numpy(X), torch.from_numpy(y)
        self.batch = spec["batch"]
        self.generator = torch.Generator().manual_seed(0)

    def _step(self, X, y):
        self.optimizer.zero_grad(set_to_none=True)
        self.loss(self.net(X), y).backward()
        self.optimizer.step()

    def train(self, epochs):
        n = len(self.X)
        for _ in range(epochs):
            if self.batch is None:
                self._step(self.X, self.y)
                continue
            order = self.torch.randperm(n, generator=self.generator)
            for start in range(0, n, self.batch):
                index = order[start : start + self.batch]
                self._step(self.X.index_select(0, index), self.y.index_select(0, index))

    def subnormals(self):
        """(share in parameters, share in Adam's state), each with its number of values."""
        params = [p.detach().numpy() for p in self.net.parameters()]
        state = [
            value.numpy()
            for slots in self.optimizer.state.values()
            for key, value in slots.items()
            if key != "step"
        ]
        return subnormal_share(params), subnormal_share(state)

    def forward(self):
        with self.torch.no_grad():
            logits = self.net(self.X)
            loss = float(self.loss(logits, self.y))
            return {"loss": loss, "accuracy": float((logits.argmax(1) == self.y).float().mean())}

    def accuracy(self):
        return self.forward()["accuracy"]


class SklearnRun:
    label = "scikit-learn MLPClassifier"

    def __init__(self, spec, name, X, y):
        self.spec, self.X, self.y = spec, X, y
        self.clf = None

    def train(self, epochs):
        import warnings

        from sklearn.exceptions import ConvergenceWarning
        from sklearn.neural_network import MLPClassifier

        self.clf = MLPClassifier(
            hidden_layer_sizes=self.spec["sizes"][1:-1],
            activation="relu",
            solver="adam",
            alpha=0.0,
            batch_size=self.spec["batch"] or len(self.X),
            learning_rate_init=self.spec["lr"],
            max_iter=epochs,
            shuffle=True,
            tol=0.0,
            n_iter_no_change=10**9,
            epsilon=1e-8,
            random_state=0,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            self.clf.fit(self.X, self.y)
        assert self.clf.n_iter_ == epochs, self.clf.n_iter_

    def accuracy(self):
        return float(self.clf.score(self.X, self.y))


def available_peers():
    peers = [NncoreRun]
    missing = []
    for cls, module in ((TorchRun, "torch"), (SklearnRun, "sklearn")):
        try:
            __import__(module)
            peers.append(cls)
        except ImportError:
            missing.append(module)
    return peers, missing


# ---------------------------------------------------------------- measurements


HZ = os.sysconf("SC_CLK_TCK")
QUIET = 0.05  # a sample counts only if other processes used at most 5% of the CPUs meanwhile


def _jiffies():
    """(busy jiffies of the whole machine, including steal; jiffies of this process)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    busy = sum(fields) - fields[3] - fields[4]  # all but idle and iowait
    own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return busy, int(own[11]) + int(own[12])


def others_load(seconds=0.2):
    busy0, own0 = _jiffies()
    time.sleep(seconds)
    busy1, own1 = _jiffies()
    return max(0, (busy1 - busy0) - (own1 - own0)) / (seconds * HZ * (os.cpu_count() or 1))


def guarded(sample, attempts=4):
    """Run ``sample()`` on a quiet machine; retry it if other processes disturbed it."""
    for attempt in range(attempts):
        for _ in range(50):  # wait up to ~10 s for the machine to go quiet
            if others_load() <= QUIET:
                break
        busy0, own0 = _jiffies()
        start = time.perf_counter()
        result = sample()
        elapsed = time.perf_counter() - start
        busy1, own1 = _jiffies()
        others = max(0, (busy1 - busy0) - (own1 - own0)) / (
            max(elapsed, 0.01) * HZ * (os.cpu_count() or 1)
        )
        if others <= QUIET or attempt == attempts - 1:
            return result


def settle(cls):
    """Idle 1 s between implementations: OpenBLAS's and torch's OpenMP worker threads both spin
    for a while after their last call and would steal the cores from whoever runs next."""
    time.sleep(1.0)


def round_gemm():
    """The GEMM limit right now (n = 1024, best of 3): host noise moves it as much as anything."""
    a = np.random.default_rng(0).random((1024, 1024), dtype=np.float32)
    out = np.empty_like(a)
    np.matmul(a, a, out=out)
    best = min(_timed(lambda: np.matmul(a, a, out=out)) for _ in range(3))
    return 2 * 1024**3 / best / 1e9


def _timed(f):
    start = time.perf_counter()
    f()
    return time.perf_counter() - start


def time_training(name, spec, peers, quick):
    X, y = load_data(name)
    epochs = 20 if quick and name == "W1" else (1 if quick else spec["epochs"])
    repeats = 1 if quick else spec["repeats"]
    times = {cls.label: [] for cls in peers}
    times["gemm"] = []
    accuracy, subnormals = {}, {}
    for _ in range(repeats):
        times["gemm"].append(round_gemm())
        for cls in peers:
            settle(cls)
            if cls is not SklearnRun:  # warm-up: buffers, allocator, caches
                cls(WORKLOADS[name], name, X, y).train(1 if name != "W1" else 20)
            runs = []

            def sample(cls=cls, runs=runs):
                run = cls(WORKLOADS[name], name, X, y)  # fresh for every attempt
                runs.append(run)
                gc.collect()
                start = time.perf_counter()
                run.train(epochs)
                return (time.perf_counter() - start) / epochs

            times[cls.label].append(guarded(sample))
            accuracy[cls.label] = runs[-1].accuracy()
            if hasattr(runs[-1], "subnormals"):
                subnormals[cls.label] = runs[-1].subnormals()
    return times, accuracy, subnormals, epochs, len(X)


def time_forward(name, peers, quick):
    X, y = load_data(name)
    spec = WORKLOADS[name]
    peers = [cls for cls in peers if cls is not SklearnRun]
    calls = 200 if name == "W1" else 3
    repeats = 1 if quick else 5
    times = {cls.label: [] for cls in peers}
    for _ in range(repeats):
        for cls in peers:
            settle(cls)
            run = cls(spec, name, X, y)
            run.forward()

            def sample(run=run):
                start = time.perf_counter()
                for _ in range(calls):
                    run.forward()
                return (time.perf_counter() - start) / calls

            times[cls.label].append(guarded(sample))
    return times, len(X)


def gemm_limit(quick):
    """float32 GEMM throughput of numpy at n = 1024 and 2048, GFLOP/s (median of repeats)."""
    result = {}
    for n in (1024, 2048):
        a = np.random.default_rng(0).random((n, n), dtype=np.float32)
        b = np.random.default_rng(1).random((n, n), dtype=np.float32)
        out = np.empty_like(a)
        np.matmul(a, b, out=out)
        samples = []
        for _ in range(3 if quick else 7):
            start = time.perf_counter()
            np.matmul(a, b, out=out)
            samples.append(2 * n**3 / (time.perf_counter() - start) / 1e9)
        result[n] = statistics.median(samples)
    return result


def parameters(sizes):
    return sum(a * b + b for a, b in zip(sizes, sizes[1:], strict=False))


def peak_rss_kib():
    """Peak resident set of this process image (VmHWM). ru_maxrss would not do: Linux keeps it
    across execve, so a child started by a big parent reports the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def peak_memory_child():
    """Run in a fresh process: W3 training for one epoch and one evaluation; print JSON."""
    X, y = load_data("W3")
    baseline = peak_rss_kib()
    run = NncoreRun(WORKLOADS["W3"], "W3", X, y)
    run.train(1)
    run.forward()
    peak = peak_rss_kib()
    print(
        json.dumps(
            {
                "peak_kib": peak,
                "after_data_kib": baseline,
                "data_bytes": X.nbytes + y.nbytes,
                "param_bytes": 4 * parameters(WORKLOADS["W3"]["sizes"]),
            }
        )
    )


def measure_memory():
    out = subprocess.run(
        [sys.executable, __file__, "--memory-child"], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


MINIMAL_APP = """
import hydra
import numpy  # noqa: F401
import pandas  # noqa: F401


@hydra.main(config_path=None{version_base})
def main(cfg):
    pass


main()
"""


def measure_startup(quick):
    """Wall time of whole commands, each a fresh process in a fresh folder (median of repeats)."""
    commands = {
        "python -m runner trainer.epochs=0": [sys.executable, "-m", "runner", "trainer.epochs=0"],
        "python -m runner trainer.epochs=0 trainer.plots=false": [
            sys.executable,
            "-m",
            "runner",
            "trainer.epochs=0",
            "trainer.plots=false",
        ],
        "minimal Hydra app importing numpy and pandas": [sys.executable, "minimal_app.py"],
        "python -c 'import numpy, pandas'": [sys.executable, "-c", "import numpy, pandas"],
    }
    times = {name: [] for name in commands}
    with tempfile.TemporaryDirectory() as folder:
        from runner.stack import version_base  # 1.3's, or none on 1.4, which deprecates it

        extra = "".join(f", {key}={value!r}" for key, value in version_base().items())
        (Path(folder) / "minimal_app.py").write_text(MINIMAL_APP.format(version_base=extra))
        for _ in range(2 if quick else 5):
            for name, command in commands.items():
                start = time.perf_counter()
                subprocess.run(command, cwd=folder, capture_output=True, check=True)
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(samples) for name, samples in times.items()}


def blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "threadpoolctl not installed"
    return "; ".join(
        f"{i.get('internal_api')} {i.get('version') or ''} kernel={i.get('architecture')} threads={i['num_threads']}"
        for i in threadpool_info()
    )


# ---------------------------------------------------------------- report


def fmt_time(seconds):
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} µs"
    if seconds < 1:
        return f"{seconds * 1e3:.1f} ms"
    return f"{seconds:.2f} s"


def ratio(samples, reference):
    if not reference:
        return "–"
    return f"{statistics.median(a / b for a, b in zip(samples, reference, strict=True)):.2f}"


def subnormal_lines(subnormals, epochs):
    """One line per implementation: the share of subnormal values at the end of the run."""
    lines = []
    for label, ((params, n_params), (state, n_state)) in subnormals.items():
        lines.append(
            f"Subnormal values after {epochs} epochs, {label}: {100 * params:.2f}% of "
            f"{n_params} parameters, {100 * state:.2f}% of {n_state} optimizer state values."
        )
    return lines


def training_table(name, times, accuracy, n, limit):
    spec = WORKLOADS[name]
    flops = 6 * parameters(spec["sizes"]) * n
    gemm = times.pop("gemm")
    torch_times = times.get(TorchRun.label)
    lines = [
        f"### {spec['title']}: {n} samples, {'-'.join(map(str, spec['sizes']))}, "
        f"batch {spec['batch'] or 'full'}, P = {parameters(spec['sizes'])}",
        "",
        "| implementation | time/epoch median [min – max] | samples/s | GFLOP/s | % of GEMM limit | × torch | train acc |",
        "|---|---|---|---|---|---|---|",
    ]
    for label, samples in times.items():
        median = statistics.median(samples)
        gflops = flops / median / 1e9
        # share of the GEMM limit measured in the same round, median over rounds
        share = statistics.median(flops / t / 1e9 / g for t, g in zip(samples, gemm, strict=True))
        lines.append(
            f"| {label} | {fmt_time(median)} [{fmt_time(min(samples))} – {fmt_time(max(samples))}] "
            f"| {n / median / 1e3:.1f} k | {gflops:.1f} | {100 * share:.0f}% "
            f"| {ratio(samples, torch_times)} | {accuracy[label]:.3f} |"
        )
    lines.append("")
    lines.append(
        f"GEMM limit in these rounds (n = 1024): {', '.join(f'{g:.0f}' for g in gemm)} GFLOP/s; "
        "'% of GEMM limit' compares each sample with its own round's."
    )
    return lines


def forward_table(name, times, n):
    torch_times = times.get(TorchRun.label)
    lines = [
        f"### F{name[1]}: forward + loss + accuracy on {WORKLOADS[name]['title']}'s {n} samples",
        "",
        "| implementation | time median [min – max] | samples/s | × torch |",
        "|---|---|---|---|",
    ]
    for label, samples in times.items():
        median = statistics.median(samples)
        label = label.split(",")[0]  # no optimizer in a forward pass
        lines.append(
            f"| {label} | {fmt_time(median)} [{fmt_time(min(samples))} – {fmt_time(max(samples))}] "
            f"| {n / median / 1e3:.0f} k | {ratio(samples, torch_times)} |"
        )
    return lines


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smoke run: few epochs, one repeat")
    parser.add_argument(
        "--write", metavar="FILE", help="replace the speed section of this markdown file"
    )
    parser.add_argument("--only", help="comma-separated parts: W1,W2,W3,F1,F3,R1,MEM")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.memory_child:
        return peak_memory_child()
    parts = set((args.only or "W1,W2,W3,F1,F3,R1,MEM").split(","))

    peers, missing = available_peers()
    limit = gemm_limit(args.quick)
    best = max(limit.values())
    out = [
        START,
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} with `python bench/speed.py`; one process run.",
        "",
        f"- Machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs; Python "
        f"{platform.python_version()}, numpy {np.__version__}",
        f"- BLAS: {blas_info()}",
        f"- Environment: OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', 'unset')}, "
        f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS', 'unset')}",
        f"- float32 GEMM limit (numpy): {limit[1024]:.0f} GFLOP/s at n = 1024, {limit[2048]:.0f} at n = 2048; "
        f"'% of GEMM limit' divides by {best:.0f}",
    ]
    if "torch" not in missing:
        import torch

        out.append(f"- torch {torch.__version__}, {torch.get_num_threads()} threads")
    if "sklearn" not in missing:
        import sklearn

        out.append(f"- scikit-learn {sklearn.__version__}")
    if missing:
        out.append(
            f"- not installed, rows missing: {', '.join(missing)} (pip install -e '.[bench]')"
        )
    out.append("")
    for name in ("W1", "W2", "W3"):
        if name in parts:
            times, accuracy, subnormals, epochs, n = time_training(
                name, WORKLOADS[name], peers, args.quick
            )
            table = training_table(name, times, accuracy, n, best)
            table += [""] + subnormal_lines(subnormals, epochs) + [""]
            out += table
            print("\n".join(table), flush=True)
    for name in ("W1", "W3"):
        if f"F{name[1]}" in parts:
            times, n = time_forward(name, peers, args.quick)
            out += forward_table(name, times, n) + [""]
    if "R1" in parts:
        startup = measure_startup(args.quick)
        base = startup["minimal Hydra app importing numpy and pandas"]
        out += [
            "### R1: whole commands, fresh process each (median)",
            "",
            "| command | wall time | × minimal Hydra app |",
            "|---|---|---|",
        ]
        out += [
            f"| {name} | {seconds:.2f} s | {seconds / base:.2f} |"
            for name, seconds in startup.items()
        ]
        out.append("")
    if "MEM" in parts:
        memory = measure_memory()
        budget = memory["data_bytes"] + memory["param_bytes"]
        peak = memory["peak_kib"] * 1024
        out += [
            "### Memory: W3 training, one epoch and one evaluation, fresh process",
            "",
            f"Peak RSS {peak / 2**20:.0f} MiB against {budget / 2**20:.0f} MiB of data plus parameters "
            f"({peak / budget:.2f}x; target at most 1.5x). The process held "
            f"{memory['after_data_kib'] / 1024:.0f} MiB once Python, numpy and the data were loaded.",
            "",
        ]
    out.append(END)
    text = "\n".join(out)
    print(text)
    if args.write:
        path = Path(args.write)
        page = path.read_text() if path.exists() else "# Benchmarks\n"
        if START in page:
            page = page[: page.index(START)] + text + page[page.index(END) + len(END) :]
        else:
            page = (
                page.rstrip()
                + "\n\n## Speed: nncore against PyTorch and scikit-learn\n\n"
                + text
                + "\n"
            )
        path.write_text(page)
        print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
