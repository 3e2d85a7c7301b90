"""``python -m runner.report``: a sweep (or any runs) as one self-contained HTML page.

The page is the sweep explorer: per section, the comparison with its statistics, then
parallel coordinates with brushing, slices, curves on demand, a table that follows the brush,
a search's history and importances (``explorer.py`` gathers the data, ``explorer.js`` draws it
with Apache ECharts), and the best runs' pictures. ECharts, the data and the pictures are inlined:
the page loads nothing from the network, opens from ``file://``, and is shared as one file.
"""

import argparse
import base64
import html
import json
import sys
import tempfile
import webbrowser
from datetime import datetime
from importlib import resources
from pathlib import Path

from runner.analysis import grouping, race_view
from runner.analysis.compare import add_selection_arguments, selected_runs
from runner.analysis.ranking import compare, default_by, default_metric, pivot
from runner.analysis.rendering import shown_groups
from runner.analysis.runs import UNRECORDED_NOTE, CompareError, count_unrecorded
from runner.errors import os_problem
from runner.metric_names import headline, higher_is_better, score_columns, task_of_columns
from runner.records import write_text_atomically

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5rem auto; max-width: 1400px; padding: 0 1rem;
  color: #222; }
h1 { font-size: 1.5rem; } h2 { font-size: 1.25rem; margin-top: 2.5rem; border-bottom: 2px solid #ccc; }
h3 { font-size: 1.05rem; margin-top: 1.6rem; border-bottom: 1px solid #eee; }
table { border-collapse: collapse; font-size: 0.85rem; margin: 0.5rem 0; }
th, td { padding: 0.25rem 0.6rem; border-bottom: 1px solid #eee; text-align: right; white-space: nowrap; }
th { background: #f5f5f5; position: sticky; top: 0; } td:first-child, th:first-child { text-align: left; }
.scroll { overflow: auto; max-width: 100%; } .table-view { max-height: 32rem; }
th.sortable { cursor: pointer; } tr.selected td { background: #e8f0fb; } tbody tr { cursor: pointer; }
td.copy { text-align: left; font-family: ui-monospace, monospace; font-size: 0.75rem; user-select: all;
  cursor: text; white-space: normal; overflow-wrap: anywhere; min-width: 14rem; }
.chart.parcoords { height: 440px; } .chart.curves { height: 380px; } .slice, .search .plot { height: 300px; }
.slices { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr)); gap: 0.5rem; }
.search { display: grid; grid-template-columns: 1fr 1fr; gap: 0.5rem; }
.search > p { grid-column: 1 / -1; margin: 0; }
img { max-width: 100%; height: auto; border: 1px solid #eee; margin: 0.3rem 0; }
.run { margin-bottom: 2rem; }
.pictures { display: flex; flex-wrap: wrap; gap: 0.5rem; align-items: flex-start; }
.pictures img.square { max-width: min(48%, 600px); } .pictures img.wide { max-width: 100%; }
pre { background: #f8f8f8; padding: 0.6rem; font-size: 0.8rem; overflow-x: auto; }
.muted { color: #777; font-size: 0.85rem; } select { margin: 0.2rem 0; }
"""
WARNING_STYLE = "color: #8a4b00; background: #fff6e5; padding: 0.4rem 0.6rem"  # inline: pages
# without a warning stay as they were
STATIC_PICTURES = ("boundary.png", "fit.png")  # the curves are drawn by the views
COMPARISON_ROWS = 20  # groups in a section's comparison table; the explorer's table has them all
VIEWS = (
    ("Parallel coordinates", ("controls", "parcoords")),
    ("Slices", ("slices",)),
    ("Curves", ("curves-note", "curves")),
    ("Table", ("table",)),
)


def build(runs, by=None, metric=None, top=3, pivot_on=None, title="Runs", level=0.95, races=()):
    """The report as an HTML string. First, per folder of ``races`` (sweep folders holding a
    race.csv), what the race decided; then per section (dataset, task, objective): the
    comparison of ``runner.compare`` (intervals, ties), the interactive views (parallel
    coordinates, slices, curves, table, a search's results), and the best runs' pictures drawn
    from their files. ``by`` and ``metric`` default per section, as in compare."""
    from runner.analysis import explorer

    parts = [
        f"<h1>{_e(title)}</h1>",
        f"<p class='muted'>{len(runs)} runs; ± is the {level:.0%} t interval of the mean; tied: "
        f"not told apart from the best at {level:.0%}; generated {datetime.now():%Y-%m-%d %H:%M}. "
        "Drag along any axis of the parallel coordinates to brush a range (several axes at once; "
        "click an axis outside its range to clear it); the slices and the table follow.</p>",
    ]
    for folder in races:
        parts += _race(folder, runs)
    sections, ranked = [], 0
    with tempfile.TemporaryDirectory() as scratch:
        for section, part in grouping.sections(runs):
            section_by = by or default_by(part)
            section_metric = metric or grouping.default_metric(part)
            parts.append(f"<h2>{_e(section)}</h2>")
            if section_metric is None:  # nothing finished ok: listed below, not ranked
                parts += ["<p>(no runs finished ok)</p>", *_not_ok(part)]
                continue
            ranked += 1
            parts += _comparison(part, section_by, section_metric, level)
            common = explorer.common_config(part)
            keys = grouping.swept_keys(part, section_by)
            data = explorer.section(section, part, keys, section_metric, common, section_by)
            parts.append(_views(len(sections), data))
            sections.append(data)
            if pivot_on and ranked == 1:
                parts += _heatmap(part, pivot_on, section_metric, Path(scratch))
            parts += _best_runs(part, section_metric, top, Path(scratch) / str(ranked), common)
            parts += _not_ok(part)
    if not ranked:
        default_metric(runs)  # raises: the runs have no metric values yet
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_e(title)}</title><style>{STYLE}</style></head><body>"
        + "\n".join(parts)
        + _scripts({"sections": sections})
        + "</body></html>"
    )


def _comparison(runs, by, metric, level):
    table, _ = compare(runs, by, metric, level)
    order = "higher" if higher_is_better(metric) else "lower"
    shown = shown_groups(table, by, metric) if len(table) else None
    parts = [
        "<h3>Comparison</h3>",
        f"<p class='muted'>{len(runs)} runs, grouped by {_e(', '.join(by))}, ranked by "
        f"{_e(metric)} ({order} is better)</p>",
    ]
    if shown is not None:
        parts.append(f"<div class='scroll'>{_table_html(shown.head(COMPARISON_ROWS))}</div>")
        if len(shown) > COMPARISON_ROWS:
            parts.append(
                f"<p class='muted'>{len(shown) - COMPARISON_ROWS} more groups: see the table "
                "below (one line per group), or python -m runner.compare</p>"
            )
    return parts


def _race(folder, runs):
    """The race of a sweep folder: its configurations (winner, tied, eliminated by round) and
    one line per round; a race.csv that cannot be read is one warning line, the rest of the
    page is still written."""
    objective = _objective(runs, folder)
    parts = [f"<h2>Race: {_e(folder)}</h2>"]
    try:
        race = race_view.read(folder, higher_is_better(objective))
    except race_view.RaceFileError as error:
        print(f"report: the race is not shown: {error}", file=sys.stderr)
        return [*parts, _warning(f"The race is not shown: {error}")]
    table = race.configurations.rename(
        columns={
            "seeds": "seeds run",
            "mean": f"mean {objective}",
            "round": "round eliminated",
            "p_value": "p-value",
        }
    )
    table["round eliminated"] = [str(int(r)) if r == r else "-" for r in table["round eliminated"]]
    table["p-value"] = [f"{p:.2g}" if p == p else "-" for p in table["p-value"]]
    parts += [
        f"<p class='muted'>{len(table)} configurations raced on {_e(objective)} "
        f"({'higher' if higher_is_better(objective) else 'lower'} is better): the winner, then "
        "those still tied, then the eliminated, the last eliminated first; p-value: the test "
        "against the best in the round that eliminated it (race.csv)</p>",
        f"<div class='scroll'>{_table_html(table)}</div>",
    ]
    if race.rounds is not None:
        lines = race_view.round_lines(race.rounds)
        items = "".join(f"<li>{_e(line)}</li>" for line in lines)
        parts.append(f"<ul class='race-rounds'>{items}</ul>")
    elif race.rounds_problem:
        print(f"report: the race's rounds are not shown: {race.rounds_problem}", file=sys.stderr)
        parts.append(_warning(f"The race's rounds are not shown: {race.rounds_problem}"))
    return parts


def _warning(text):
    return f"<p class='warning' style='{WARNING_STYLE}'>{_e(text)}</p>"


def _objective(runs, folder):
    """The objective the race ranked on: the one its runs recorded (val_loss unless set)."""
    if "objective" not in runs:
        return "val_loss"
    mine = runs
    if "sweep_dir" in runs:
        target = str(Path(folder).resolve())
        inside = runs["sweep_dir"].map(lambda d: str(Path(str(d)).resolve()) == target)
        mine = runs[inside] if inside.any() else runs
    names = mine["objective"].dropna().astype(str).unique()
    return names[0] if len(names) == 1 else "val_loss"


def _views(index, data):
    views = list(VIEWS)
    if data["searches"]:
        views.append(("Search results", ("search",)))
    html_parts = [f"<div class='explorer' id='explorer-{index}'>"]
    for heading, names in views:
        html_parts.append(f"<h3>{heading}</h3>")
        for name in names:
            css = {
                "table": " class='scroll table-view'",
                "slices": " class='slices'",
                "parcoords": " class='chart parcoords'",
                "curves": " class='chart curves'",
            }
            html_parts.append(f"<div data-view='{name}'{css.get(name, '')}></div>")
    html_parts.append("</div>")
    return "".join(html_parts)


def _scripts(data):
    """Apache ECharts (only the charts the views use, built by tools/echarts-bundle), the page
    data (JSON that cannot close its script element) and the views."""
    payload = (
        json.dumps(data, separators=(",", ":"), allow_nan=False)
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )
    return (
        f"<script>{_asset('runner.analysis', 'vendor/echarts-explorer.min.js')}</script>"
        f"<script type='application/json' id='explorer-data'>{payload}</script>"
        f"<script>{_asset('runner.analysis', 'explorer.js')}</script>"
    )


def _asset(package, name):
    return (resources.files(package) / name).read_text(encoding="utf-8")


def _heatmap(runs, pivot_on, metric, scratch):
    from runner.analysis import plots

    grid = pivot(runs, *pivot_on, metric)
    path = plots.heatmap(grid, metric, scratch / "pivot.png")
    return [
        f"<h3>{_e(metric)}: {_e(pivot_on[0])} x {_e(pivot_on[1])}</h3>",
        _img(path, "heatmap", "square"),
    ]


def _not_ok(runs):
    not_ok = runs[runs["status"] != "ok"] if "status" in runs else runs.iloc[:0]
    if not len(not_ok):
        return []
    columns = [c for c in ("run_id", "status", "overrides", "message") if c in not_ok]
    parts = [
        f"<h3>Not averaged ({len(not_ok)} runs did not finish ok)</h3>",
        f"<div class='scroll'>{_table_html(not_ok[columns])}</div>",
    ]
    unrecorded = count_unrecorded(runs)
    if unrecorded:
        parts.append(f"<p class='muted'>{unrecorded} {_e(UNRECORDED_NOTE)}.</p>")
    return parts


def _best_runs(runs, metric, top, scratch, common):
    """The ``top`` runs by ``metric`` with their pictures (drawn now from their files where the
    job drew none) and their config as it differs from what every run of the section shares."""
    ok = runs[(runs["status"] == "ok") & runs[metric].notna()]
    best = ok.sort_values(metric, ascending=not higher_is_better(metric)).head(top)
    if not len(best):
        return []
    parts = [f"<h3>Best {len(best)} runs by {_e(metric)}</h3>"]
    for rank, (_, run) in enumerate(best.iterrows(), start=1):
        run_dir = Path(str(run.get("run_dir", "")))
        figures = ", ".join(
            f"{key} {value:.4g}"
            for key in _figures(run)
            if key in run and (value := _number(run[key])) is not None
        )
        pictures = [_img(p, p.name, "square") for p in _pictures(run_dir, scratch / str(rank))]
        differs = {k: v for k, v in run.items() if k in _config_keys(runs) and k not in common}
        parts.append(
            f"<div class='run'><h4>{rank}. {_e(run.get('overrides') or 'defaults')}</h4>"
            f"<p>{_e(figures)}<br><span class='muted'>{_e(run_dir)}</span></p>"
            f"<div class='pictures'>{''.join(pictures)}</div>"
            f"<p class='muted'>config, where it differs from the section's shared config:</p>"
            f"<pre>{_e(_yaml_lines(differs) or '(nothing: every run shares it)')}</pre></div>"
        )
    parts.append(
        f"<details><summary>Config shared by every run of this section ({len(common)} keys)"
        f"</summary><pre>{_e(_yaml_lines(common))}</pre></details>"
    )
    return parts


def _number(value):
    """A cell as a float, or None when it is empty or not a number (a garbled ledger cell)."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if number == number else None


def _figures(run):
    """What a best run's line shows: its validation scores (accuracy; RMSE, MAE and R² for a
    regression run) and loss, its test score and its training loss."""
    task = task_of_columns([key for key, value in run.items() if value == value])
    return [*score_columns(task, "val"), "val_loss", headline(task, "test"), "train_loss"]


def _config_keys(runs):
    return set(grouping.config_columns(runs))


def _yaml_lines(values):
    return "\n".join(f"{k}: {v}" for k, v in values.items() if v == v and v is not None)


def _pictures(run_dir, scratch):
    """The run's decision boundary or fit: from its folder, or drawn now from its files (sweep
    jobs draw none by default); a folder they cannot be drawn from has none. Its curves are in
    the interactive views, not repeated as a picture."""
    from runner.analysis import run_plots

    found = [p for p in run_plots.pictures(run_dir) if p.name in STATIC_PICTURES]
    if found or not run_dir.is_dir():
        return found
    try:
        drawn = run_plots.draw(run_dir, scratch, curves=False)
    except Exception as error:  # noqa: BLE001 - the page is still worth having without them
        print(
            f"report: no pictures for {run_dir}: {type(error).__name__}: {error}", file=sys.stderr
        )
        return []
    return [p for p in drawn if p.name in STATIC_PICTURES]


def _table_html(frame):
    return frame.to_html(
        index=False, na_rep="-", border=0, escape=True, float_format=lambda v: f"{v:.4g}"
    )


def _img(path, alt, css):
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f"<img class='{css}' alt='{_e(alt)}' src='data:image/png;base64,{data}'>"


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
    parser.add_argument(
        "--open",
        action="store_true",
        help="open the page in your web browser once it is written (when there is one)",
    )
    args = parser.parse_args(argv)
    try:
        runs, _ = selected_runs(args)
        by = [c.strip() for c in args.by.split(",") if c.strip()] if args.by else None
        title = "Runs: " + (", ".join(map(str, args.sources)) or "outputs/runs.csv")
        races = race_view.folders(args.sources)
        page = build(
            runs, by, args.metric, top=args.top, pivot_on=args.pivot, title=title, races=races
        )
    except CompareError as error:
        print(f"report: {error}", file=sys.stderr)
        return 2
    out = Path(args.out)
    try:
        write_text_atomically(out, page)
    except OSError as error:  # a full disk, a folder that is not there or not writable
        print(f"report: {os_problem(error)}; nothing was written", file=sys.stderr)
        return 1
    print(f"report written to {args.out} ({len(page.encode()) / 2**20:.1f} MB, {len(runs)} runs)")
    if args.open:
        _open(out)
    return 0


def _open(path):
    """The page in the user's browser; where there is none (a server, CI), how to open it."""
    uri = path.resolve().as_uri()
    try:
        opened = webbrowser.get().open(uri)
    except webbrowser.Error:
        opened = False
    if not opened:
        print(f"report: no web browser found here; open {uri} in one", file=sys.stderr)
