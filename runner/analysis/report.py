"""``python -m runner.report``: a sweep (or any runs) as one self-contained HTML page.

The page carries its images inline and loads nothing from the network: the comparison
table, the groups' validation curves, an optional heatmap, and the best runs with their
pictures and configs, so a sweep can be shared as a single file.
"""

import argparse
import base64
import html
import sys
import tempfile
from datetime import datetime
from pathlib import Path

from runner.analysis import grouping
from runner.analysis.compare import (
    UNRECORDED_NOTE,
    CompareError,
    add_selection_arguments,
    compare,
    count_unrecorded,
    default_by,
    default_metric,
    group_curves,
    higher_is_better,
    pivot,
    selected_runs,
    shown_groups,
)

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.2rem; margin-top: 2rem; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #eee; text-align: right; }
th { background: #f5f5f5; } td:first-child, th:first-child { text-align: left; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.3rem 0; }
.run { margin-bottom: 2rem; } .pictures { display: flex; flex-wrap: wrap; gap: 0.5rem; }
.pictures img { max-width: 48%; } pre { background: #f8f8f8; padding: 0.6rem; font-size: 0.8rem; overflow-x: auto; }
.muted { color: #777; font-size: 0.85rem; }
"""


def build(runs, by=None, metric=None, top=3, pivot_on=None, title="Runs", level=0.95):
    """The report as an HTML string: a comparison per section (dataset, task, objective) with
    the intervals and ties of ``runner.compare``; curves, heatmap and best runs of the biggest
    section. ``by`` and ``metric`` default per section, as in compare."""
    parts = [
        f"<h1>{_e(title)}</h1>",
        f"<p class='muted'>{len(runs)} runs; ± is the {level:.0%} t interval of the mean; tied: "
        f"not told apart from the best at {level:.0%}; generated {datetime.now():%Y-%m-%d %H:%M}</p>",
    ]
    first = None
    for section, part in grouping.sections(runs):
        section_by = by or default_by(part)
        section_metric = metric or grouping.default_metric(part)
        if section_metric is None:  # nothing finished ok: listed below, not ranked
            parts += [f"<h2>Comparison: {_e(section)}</h2>", "<p>(no runs finished ok)</p>"]
            continue
        table, not_ok = compare(part, section_by, section_metric, level)
        order = "higher" if higher_is_better(section_metric) else "lower"
        parts += [
            f"<h2>Comparison: {_e(section)}</h2>",
            f"<p class='muted'>{len(part)} runs, grouped by {_e(', '.join(section_by))}, ranked "
            f"by {_e(section_metric)} ({order} is better)</p>",
            _table_html(shown_groups(table, section_by, section_metric)) if len(table) else "",
        ]
        if first is None:
            first = (part, section_by, section_metric, not_ok)
    if first is None:
        default_metric(runs)  # raises: the runs have no metric values yet
    runs, by, metric, not_ok = first
    with tempfile.TemporaryDirectory() as scratch:
        curves, column = group_curves(runs, by, metric)
        if curves:
            from runner.analysis import plots

            path = plots.overlaid_curves(curves, column, Path(scratch) / "curves.png")
            parts += [f"<h2>{_e(column)} by epoch</h2>", _img(path, f"{column} curves")]
        if pivot_on:
            from runner.analysis import plots

            grid = pivot(runs, *pivot_on, metric)
            path = plots.heatmap(grid, metric, Path(scratch) / "pivot.png")
            parts += [
                f"<h2>{_e(metric)}: {_e(pivot_on[0])} x {_e(pivot_on[1])}</h2>",
                _img(path, "heatmap"),
            ]
        parts += _best_runs(runs, metric, top, Path(scratch))
    if len(not_ok):
        columns = [c for c in ("run_id", "status", "overrides", "message") if c in not_ok]
        parts += [
            f"<h2>Not averaged ({len(not_ok)} runs did not finish ok)</h2>",
            _table_html(not_ok[columns]),
        ]
        unrecorded = count_unrecorded(runs)
        if unrecorded:
            parts.append(f"<p class='muted'>{unrecorded} {_e(UNRECORDED_NOTE)}.</p>")
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>"
        + "\n".join(parts)
        + "</body></html>"
    )


def _best_runs(runs, metric, top, scratch):
    ok = runs[(runs["status"] == "ok") & runs[metric].notna()]
    best = ok.sort_values(metric, ascending=not higher_is_better(metric)).head(top)
    parts = [f"<h2>Best {len(best)} runs by {_e(metric)}</h2>"] if len(best) else []
    for rank, (_, run) in enumerate(best.iterrows(), start=1):
        run_dir = Path(str(run.get("run_dir", "")))
        figures = ", ".join(
            f"{key} {run[key]:.4g}"
            for key in ("val_accuracy", "val_loss", "train_accuracy", "train_loss")
            if key in run and run[key] == run[key]
        )
        pictures = [_img(path, path.name) for path in _pictures(run_dir, scratch / str(rank))]
        parts.append(
            f"<div class='run'><h3>{rank}. {_e(run.get('overrides') or 'defaults')}</h3>"
            f"<p>{_e(figures)}<br><span class='muted'>{_e(run_dir)}</span></p>"
            f"<div class='pictures'>{''.join(pictures)}</div>"
            f"<details><summary>config</summary><pre>{_e(_config_text(run_dir, run))}</pre></details></div>"
        )
    return parts


def _pictures(run_dir, scratch):
    """The run's pictures: those in its folder, or drawn now from its files (sweep jobs draw
    none by default); a folder they cannot be drawn from has none."""
    from runner.analysis import run_plots

    found = run_plots.pictures(run_dir)
    if found or not run_dir.is_dir():
        return found
    try:
        return run_plots.draw(run_dir, scratch)
    except Exception as error:  # noqa: BLE001 - the page is still worth having without them
        print(
            f"report: no pictures for {run_dir}: {type(error).__name__}: {error}", file=sys.stderr
        )
        return []


def _config_text(run_dir, run):
    saved = run_dir / ".hydra" / "config.yaml"
    if saved.is_file():
        return saved.read_text()
    return "\n".join(f"{k}: {v}" for k, v in run.items() if "." in str(k) and v == v)


def _table_html(frame):
    return frame.to_html(
        index=False, na_rep="-", border=0, escape=True, float_format=lambda v: f"{v:.4g}"
    )


def _img(path, alt):
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f"<img alt='{_e(alt)}' src='data:image/png;base64,{data}'>"


def _e(text):
    return html.escape(str(text), quote=True)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m runner.report", description="Write runs as one self-contained HTML page."
    )
    add_selection_arguments(parser)
    parser.add_argument(
        "--out", default="report.html", help="HTML file to write (default: report.html)"
    )
    parser.add_argument(
        "--top",
        type=int,
        default=3,
        help="how many best runs to show with their pictures (default: 3)",
    )
    args = parser.parse_args(argv)
    try:
        runs, _ = selected_runs(args)
        by = [c.strip() for c in args.by.split(",") if c.strip()] if args.by else None
        title = "Runs: " + (", ".join(map(str, args.sources)) or "outputs/runs.csv")
        page = build(runs, by, args.metric, top=args.top, pivot_on=args.pivot, title=title)
    except CompareError as error:
        print(f"report: {error}", file=sys.stderr)
        return 2
    Path(args.out).write_text(page, encoding="utf-8")
    print(f"report written to {args.out} ({len(page) // 1024} KiB, {len(runs)} runs)")
    return 0
