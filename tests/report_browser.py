"""The report opened as a user opens it: from file:// in headless Chromium (Debian's), with the
network blocked; and what its ECharts canvases show, read back from ECharts."""

import shutil
from contextlib import contextmanager

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@contextmanager
def browser_page(path):
    """(page, problems): the report opened from file:// in headless Chromium, every request that
    is not file: or data: blocked and listed in problems, as are console errors."""
    if CHROMIUM is None:
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    problems = []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-sync",
            ],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.on(
            "console",
            lambda message: problems.append(message.text) if message.type == "error" else None,
        )
        page.on("pageerror", lambda error: problems.append(str(error)))

        def block(route):
            if route.request.url.startswith(("file:", "data:")):
                route.continue_()
            else:
                problems.append(route.request.url)
                route.abort()

        page.route("**/*", block)
        page.goto(path.as_uri())
        page.wait_for_function("document.documentElement.dataset.explorer === 'ready'")
        try:
            yield page, problems
        finally:
            browser.close()


# Every label ECharts draws in one chart, as the corners of its box on the page (rotated labels
# too): the box of a text element and its transform, its height at least its font's size, cut
# where a legend's clip rectangle cuts it.
_LABELS = """(div) => {
  const chart = echarts.getInstanceByDom(div), seen = new Set(), labels = [];
  // a label partly scrolled out of a legend is cut at the legend's clip rectangle
  const clipped = (el, corners) => {
    for (let node = el.parent; node; node = node.parent) {
      const clip = node.getClipPath && node.getClipPath();
      if (!clip) continue;
      const r = clip.getBoundingRect().clone();
      r.applyTransform(node.transform || [1, 0, 0, 1, 0, 0]);
      const xs = corners.map((c) => Math.min(Math.max(c[0], r.x), r.x + r.width));
      const ys = corners.map((c) => Math.min(Math.max(c[1], r.y), r.y + r.height));
      corners = corners.map((_, i) => [xs[i], ys[i]]);
    }
    return corners;
  };
  const hidden = (el) => { for (; el; el = el.parent) if (el.ignore || el.invisible) return true; return false; };
  chart.getZr().storage.getDisplayList(true).forEach((span) => {
    const el = span.parent;
    if (span.type !== 'tspan' || !el || el.type !== 'text' || seen.has(el) || hidden(el)) return;
    if (span.style.opacity === 0 || !String(el.style.text || '').trim()) return;
    seen.add(el);
    const box = el.getBoundingRect(), size = parseFloat((span.style.font || '').match(/([\\d.]+)px/)[1]);
    const height = Math.max(box.height, size), top = box.y + box.height / 2 - height / 2;
    const m = el.transform || [1, 0, 0, 1, 0, 0];
    const corners = [[box.x, top], [box.x + box.width, top], [box.x + box.width, top + height], [box.x, top + height]]
      .map(([x, y]) => [m[0] * x + m[2] * y + m[4], m[1] * x + m[3] * y + m[5]]);
    labels.push({ text: String(el.style.text), corners: clipped(el, corners) });
  });
  return labels;
}"""


def drawn_labels(page, selector):
    """[[{text, corners}] per chart] of the charts under ``selector``."""
    return page.evaluate(
        f"(selector) => [...document.querySelectorAll(selector)].map({_LABELS})", selector
    )


def overlapping(labels, slack=1.0):
    """Pairs of labels whose boxes overlap by more than ``slack`` pixels (separating axes)."""
    return [
        (a["text"], b["text"])
        for i, a in enumerate(labels)
        for b in labels[i + 1 :]
        if _overlap(a["corners"], b["corners"]) > slack
    ]


def _overlap(a, b):
    """How far two convex boxes overlap along the axis that separates them best (<= 0: apart)."""
    depth = float("inf")
    for box in (a, b):
        for (x0, y0), (x1, y1) in zip(box, box[1:] + box[:1], strict=True):
            nx, ny = y0 - y1, x1 - x0
            norm = (nx * nx + ny * ny) ** 0.5 or 1.0
            pa = [(x * nx + y * ny) / norm for x, y in a]
            pb = [(x * nx + y * ny) / norm for x, y in b]
            depth = min(depth, min(max(pa), max(pb)) - max(min(pa), min(pb)))
    return depth
