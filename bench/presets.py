"""What each experiment preset reaches, as a range over seeds and BLAS kernels.

Float32 training is chaotic: the same preset and seed lands elsewhere under another GEMM
kernel, so a single figure is not reproducible. This runs every preset for several seeds,
once per OpenBLAS kernel (each in a fresh process, since the kernel is fixed when numpy
loads), and prints the range of the final metric and of the run time:

    python bench/presets.py                          # seeds 0-9 (0-2 for spiral_dropout)
    python bench/presets.py --kernels default,Haswell,SkylakeX --seeds 5
    python bench/presets.py --presets spiral_adam,spiral_l2 --write BENCHMARKS.md

``default`` is the kernel OpenBLAS picks for this CPU with the environment as it is.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# preset -> (metric reported, seeds by default); spiral_dropout takes minutes per seed
PRESETS = {
    "spiral_adam": ("val_accuracy", 10),
    "spiral_l2": ("val_accuracy", 10),
    "spiral_binary": ("val_accuracy", 10),
    "sine_regression": ("val_loss", 10),
    "spiral_dropout": ("val_accuracy", 3),
}
MARK_START, MARK_END = "<!-- presets:start -->", "<!-- presets:end -->"


def run_presets(presets, seeds):
    """In this process: every preset x seed through the runner's own training loop."""
    from hydra import compose, initialize_config_dir

    from runner.plugins import make_visible
    from runner.stack import version_base

    make_visible()

    from runner import train

    results = []
    with initialize_config_dir(config_dir=str(ROOT / "conf"), **version_base()):
        for preset in presets:
            metric, default_seeds = PRESETS[preset]
            for seed in range(seeds or default_seeds):
                overrides = [f"experiment={preset}", f"seed={seed}", "trainer.plots=false"]
                cfg = compose(config_name="config", overrides=overrides)
                with tempfile.TemporaryDirectory() as scratch:
                    ctx = train.RunContext(
                        run_dir=Path(scratch) / "run", ledger=Path(scratch) / "runs.csv"
                    )
                    row = train.run(cfg, ctx)
                results.append(
                    {
                        "preset": preset,
                        "seed": seed,
                        "metric": metric,
                        "value": row[metric],
                        "status": row["status"],
                        "seconds": row["seconds"],
                    }
                )
                print(f"  {preset} seed {seed}: {metric} {row[metric]:.4g}", file=sys.stderr)
    return results


def _kernel_of_this_process():
    from threadpoolctl import threadpool_info

    return next((i.get("architecture") for i in threadpool_info() if i["user_api"] == "blas"), "?")


def _in_child(kernel, presets, seeds):
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1"}
    if kernel != "default":
        env["OPENBLAS_CORETYPE"] = kernel
    command = [sys.executable, __file__, "--child", "--presets", ",".join(presets)]
    if seeds:
        command += ["--seeds", str(seeds)]
    out = subprocess.run(command, env=env, check=True, capture_output=True, text=True, cwd=ROOT)
    return json.loads(out.stdout)


def table(by_kernel):
    lines = [
        "| preset | metric | kernel | seeds | min | median | max | not ok | seconds (min – max) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    presets = list(dict.fromkeys(r["preset"] for rs in by_kernel.values() for r in rs["runs"]))
    for preset in presets:
        for result in by_kernel.values():
            rows = [r for r in result["runs"] if r["preset"] == preset]
            values = [r["value"] for r in rows if r["status"] == "ok"]
            seconds = [r["seconds"] for r in rows]
            lines.append(
                f"| `{preset}` | {rows[0]['metric']} | {result['kernel']} | {len(rows)} | "
                f"{min(values):.4g} | {statistics.median(values):.4g} | {max(values):.4g} | "
                f"{sum(r['status'] != 'ok' for r in rows)} | "
                f"{min(seconds):.1f} – {max(seconds):.1f} |"
            )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", default=",".join(PRESETS))
    parser.add_argument("--seeds", type=int, help="seeds per preset (default: 10, 3 for dropout)")
    parser.add_argument("--kernels", default="default,Haswell")
    parser.add_argument("--write", metavar="FILE.md", help="replace the presets table in FILE")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    presets = [p for p in args.presets.split(",") if p]
    if args.child:
        runs = run_presets(presets, args.seeds)
        print(json.dumps({"kernel": _kernel_of_this_process(), "runs": runs}))
        return
    by_kernel = {}
    for kernel in args.kernels.split(","):
        print(f"kernel {kernel}:", file=sys.stderr)
        by_kernel[kernel] = _in_child(kernel, presets, args.seeds)
    text = (
        f"Final metric of each preset over seeds 0..n-1 (`python bench/presets.py "
        f"--kernels {args.kernels}`), one BLAS thread, each kernel in a fresh process; "
        f"seconds are the run's own time on this 2-core machine.\n\n{table(by_kernel)}"
    )
    print(text)
    if args.write:
        path = Path(args.write)
        page = path.read_text()
        start, end = page.index(MARK_START) + len(MARK_START), page.index(MARK_END)
        path.write_text(page[:start] + "\n\n" + text + "\n\n" + page[end:])


if __name__ == "__main__":
    main()
