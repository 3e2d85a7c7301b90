"""What ``python -m runner.report`` costs on a big sweep, and how the page behaves in Chromium.

    python bench/report.py                     # 1000 runs of 2000 epochs: 250 configurations x 4 seeds
    python bench/report.py --runs 200 --epochs 500 --repeats 1

The sweep is generated (never committed): one real 2000-epoch job gives the template row, its
``.hydra`` config and ``params.npz``; every run gets its own folder with a ``metrics.csv`` of
``--epochs`` rows (the template's curves, shifted per configuration, with noise per seed), and
the ledger lists them with learning rate, width and activation varied. Measured:

- writing the report, as a whole command (fresh process, start-up included, median of
  ``--repeats``), and the file's size;
- in headless Chromium (Debian's), from navigation until every view is drawn, and from a brush
  on the parallel coordinates' first axis until the table and slices have followed it (median of
  ``--repeats`` page loads, network blocked).
"""

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

RATES = np.geomspace(1e-4, 1e-1, 25)
WIDTHS = [8, 16, 32, 64, 128]
ACTIVATIONS = ["relu", "tanh"]


def make_sweep(folder, runs, epochs, seeds=4):
    folder = Path(folder)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "runner",
            f"trainer.epochs={epochs}",
            "trainer.log_every=1",
            "trainer.plots=false",
            "hydra.run.dir=template",
        ],
        cwd=folder,
        check=True,
        capture_output=True,
    )
    template_dir = folder / "template"
    template = pd.read_csv(template_dir / "summary.csv")
    curves = pd.read_csv(template_dir / "metrics.csv")
    rng = np.random.default_rng(0)
    configs = runs // seeds
    rows = []
    sweep = folder / "sweep"
    for index in range(configs * seeds):
        config, seed = divmod(index, seeds)
        rate = RATES[config % len(RATES)]
        width = WIDTHS[(config // len(RATES)) % len(WIDTHS)]
        activation = ACTIVATIONS[(config // (len(RATES) * len(WIDTHS))) % len(ACTIVATIONS)]
        run_dir = sweep / str(index)
        (run_dir / ".hydra").mkdir(parents=True)
        for name in ("config.yaml", "hydra.yaml", "overrides.yaml"):
            shutil.copy(template_dir / ".hydra" / name, run_dir / ".hydra" / name)
        shutil.copy(template_dir / "params.npz", run_dir / "params.npz")
        shift = rng.normal(0, 0.05) + 0.03 * np.log10(rate / 1e-2)
        metrics = curves.copy()
        for column in ("train_loss", "val_loss"):
            metrics[column] = curves[column] * (1 - shift) + rng.normal(0, 0.005, len(curves))
        for column in ("train_accuracy", "val_accuracy"):
            metrics[column] = np.clip(
                curves[column] + shift + rng.normal(0, 0.01, len(curves)), 0, 1
            )
        metrics.to_csv(run_dir / "metrics.csv", index=False, float_format="%.6g")
        row = template.iloc[0].copy()
        last = metrics.iloc[-1]
        overrides = (
            f"optimizer.learning_rate={rate:.6g} model.width={width} "
            f"model.layers.0.activation={activation} seed={seed} trainer.epochs={epochs}"
        )
        row.update(
            {
                "run_id": f"20261204-120000-{index:06d}-bench",
                "run_key": f"{index:016x}",
                "run_dir": str(run_dir),
                "sweep_dir": str(sweep),
                "job": index,
                "overrides": overrides,
                "optimizer.learning_rate": rate,
                "model.width": width,
                "model.layers.0.units": width,
                "model.layers.0.activation": activation,
                "seed": seed,
                **{
                    c: last[c] for c in ("train_loss", "train_accuracy", "val_loss", "val_accuracy")
                },
            }
        )
        rows.append(row)
    ledger = folder / "runs.csv"
    pd.DataFrame(rows).to_csv(ledger, index=False)
    return ledger


def write_report(folder, ledger, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "runner.report", str(ledger), "--out", "report.html"],
            cwd=folder,
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - start)
    return times, (Path(folder) / "report.html").stat().st_size


def in_chromium(page_path, repeats):
    """[(seconds until every view is drawn, seconds for a brush to be followed)] per load."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    found = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        for _ in range(repeats):
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.route(
                "**/*",
                lambda route: (
                    route.continue_()
                    if route.request.url.startswith(("file:", "data:"))
                    else route.abort()
                ),
            )
            start = time.perf_counter()
            page.goto(Path(page_path).resolve().as_uri())
            page.wait_for_function(
                "document.documentElement.dataset.explorer === 'ready'", timeout=60000
            )
            loaded = time.perf_counter() - start
            brush = page.evaluate(
                """async () => {
                  const explorer = window.explorers[0];
                  const axis = explorer.axesShown[0];
                  const values = axis.values;
                  const low = Math.min(...values), high = Math.max(...values);
                  const start = performance.now();
                  await explorer.brush(axis.name, [[low, low + (high - low) / 2]]);
                  return [(performance.now() - start) / 1000, explorer.tableRows.length];
                }"""
            )
            found.append((loaded, *brush))
            page.close()
        browser.close()
    return found


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--epochs", type=int, default=2000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", help="write the sweep and the report into this folder")
    args = parser.parse_args()
    folder = Path(args.keep or tempfile.mkdtemp(prefix="nnrunner-report-"))
    folder.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    ledger = make_sweep(folder, args.runs, args.epochs)
    print(
        f"generated {args.runs} runs of {args.epochs} epochs in {time.perf_counter() - start:.1f} s"
    )
    times, size = write_report(folder, ledger, args.repeats)
    browser = in_chromium(folder / "report.html", args.repeats)
    print()
    print(f"| {args.runs} runs x {args.epochs} epochs | median | every repeat | target |")
    print("|---|---|---|---|")
    print(
        f"| write the report (whole command) | {statistics.median(times):.2f} s | "
        + " / ".join(f"{t:.2f}" for t in times)
        + " | < 5 s |"
    )
    print(f"| file size | {size / 2**20:.1f} MB | | < 10 MB |")
    loads = [b[0] for b in browser]
    brushes = [b[1] for b in browser]
    print(
        f"| Chromium: open until every view is drawn | {statistics.median(loads):.2f} s | "
        + " / ".join(f"{t:.2f}" for t in loads)
        + " | < 1 s |"
    )
    print(
        f"| Chromium: brush until table and slices follow ({browser[0][2]} rows left) | "
        f"{statistics.median(brushes):.3f} s | "
        + " / ".join(f"{t:.3f}" for t in brushes)
        + " | < 1 s |"
    )
    if not args.keep:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
