"""Pictures of a sweep: the compared groups' curves and the pivot's heatmap (a run's own
pictures are ``runner.pictures``).

matplotlib is imported here and only here, when a picture is drawn, with the headless Agg
canvas: runs that draw nothing start no slower, and no display is ever needed.
"""

import numpy as np

from runner import metric_names
from runner.pictures import (
    COLOURS,
    CURVES_SIZE,
    DPI,
    SQUARE_SIZE,
    new_figure,
    save,
    tighten,
    wrapped,
)

LINE_STYLES = ("-", "--", ":", "-.")  # one per ten groups: 40 groups, 40 different lines
LEGEND_LABEL = 45  # characters per legend line; a longer group label wraps
PLOT_WIDTH = 6.5  # inches kept for the axes when a wide legend widens the picture
MAX_HEIGHT = 8  # inches a curves picture grows to before its legend takes a second column
MARGIN = 1.0  # inches of axis labels and ticks around the axes of a curves picture


def overlaid_curves(curves_by_group, metric, path):
    """Validation curves of compared groups: the mean over runs as a line, min to max as a band;
    each group its own colour and line style (``group_styles``), the legend beside the axes.

    curves_by_group: {label: DataFrame with 'epoch' and one column per run}.
    """
    figure = new_figure(CURVES_SIZE)
    axes = figure.subplots()
    styles = group_styles(len(curves_by_group))
    for (label, frame), (colour, dashes) in zip(curves_by_group.items(), styles, strict=True):
        values = frame.drop(columns="epoch")
        label = wrapped(f"{label} (n={values.shape[1]})", LEGEND_LABEL)
        axes.plot(frame["epoch"], values.mean(axis=1), color=colour, linestyle=dashes, label=label)
        if values.shape[1] > 1:
            low, high = values.min(axis=1), values.max(axis=1)
            axes.fill_between(frame["epoch"], low, high, color=colour, alpha=0.15, linewidth=0)
    axes.set_xlabel("epoch")
    axes.set_ylabel(_with_direction(metric))
    if not metric_names.higher_is_better(metric) and _all_positive(curves_by_group):
        axes.set_yscale("log")  # losses and errors: their late, small differences stay visible
    axes.grid(alpha=0.3)
    _legend_beside(figure, axes)
    tighten(figure)
    return save(figure, path)


def group_styles(n):
    """[(colour, line style)] of ``n`` groups: ten dark colours with solid lines, then their
    light partners dashed (20 colours, and a light line is told from its dark partner by its
    dashes too), then dotted and dash-dot; 40 groups draw 40 different lines."""
    return [(COLOURS[k % len(COLOURS)], LINE_STYLES[k // 10 % len(LINE_STYLES)]) for k in range(n)]


def _legend_beside(figure, axes):
    """The legend right of the axes, where it covers no curve. The picture grows taller (up to
    ``MAX_HEIGHT``) to keep it in one column, then it takes more columns, and the picture grows
    wider to keep ``PLOT_WIDTH`` for the axes."""
    if not axes.get_legend_handles_labels()[1]:
        return
    renderer = figure.canvas.get_renderer()
    height = _legend(axes, 1).get_window_extent(renderer).height / DPI
    figure.set_figheight(min(MAX_HEIGHT, max(CURVES_SIZE[1], height + MARGIN)))
    columns = int(np.ceil(height / (figure.get_figheight() - MARGIN)))
    legend = _legend(axes, columns) if columns > 1 else axes.get_legend()
    width = legend.get_window_extent(renderer).width / DPI
    figure.set_figwidth(max(CURVES_SIZE[0], PLOT_WIDTH + width + MARGIN))


def _legend(axes, columns):
    return axes.legend(
        loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, fontsize=8, ncols=columns
    )


def _all_positive(curves_by_group):
    values = [frame.drop(columns="epoch").to_numpy(float) for frame in curves_by_group.values()]
    finite = np.concatenate([v[np.isfinite(v)] for v in values]) if values else np.array([])
    return finite.size > 0 and (finite > 0).all()


def _with_direction(metric):
    """``val_rmse (lower is better)``: the axis says which way is good, as compare's header does."""
    return f"{metric} ({'higher' if metric_names.higher_is_better(metric) else 'lower'} is better)"


def heatmap(grid, metric, path):
    """A two-parameter grid (DataFrame: rows x columns -> metric mean), annotated."""
    figure = new_figure(SQUARE_SIZE)
    axes = figure.subplots()
    values = grid.to_numpy(dtype=float)
    image = axes.imshow(
        values,
        cmap="viridis" if metric_names.higher_is_better(metric) else "viridis_r",
        aspect="auto",
    )
    axes.set_xticks(
        range(grid.shape[1]), [f"{c:g}" if isinstance(c, float) else str(c) for c in grid.columns]
    )
    axes.set_yticks(
        range(grid.shape[0]), [f"{r:g}" if isinstance(r, float) else str(r) for r in grid.index]
    )
    axes.set_xlabel(str(grid.columns.name))
    axes.set_ylabel(str(grid.index.name))
    for (i, j), value in np.ndenumerate(values):
        if np.isfinite(value):
            r, g, b, _ = image.cmap(image.norm(value))
            ink = "black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white"
            axes.text(j, i, f"{value:.3g}", ha="center", va="center", color=ink, fontsize=9)
    figure.colorbar(image, ax=axes, label=_with_direction(metric))
    tighten(figure)
    return save(figure, path)
