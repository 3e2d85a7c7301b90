"""The layout is the architecture: no import circles, and the single run never reaches up into
the sweep engine, the analysis or the Hydra plugins (issue 28). Every import counts, the ones
inside functions too: a lazy import hides a circle from Python, not from the design."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("runner", "hydra_plugins", "nncore")
# The commands: the top floor, which may use every floor below it.
ENTRY_POINTS = {
    "runner.app",
    "runner.compare",
    "runner.export",
    "runner.plot",
    "runner.plugins",
    "runner.predict",
    "runner.report",
}


def _modules():
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            found[name.removesuffix(".__init__")] = path
    return found


def _graph():
    """module -> the modules of ours it imports, anywhere in its code."""
    modules = _modules()

    def ours(name):
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name if name not in PACKAGES else None

    edges = {}
    for module, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                continue
            targets.update(
                t for t in map(ours, names) if t and t != module and not module.startswith(t + ".")
            )
        edges[module] = targets
    return edges


def _circles(edges):
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index, low, on_stack, stack, circles = {}, {}, set(), [], []
    for start in edges:
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    circles.append(sorted(component))
    return circles


def test_the_graph_finds_a_circle_when_there_is_one():
    edges = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _circles(edges) == [["a", "b", "c"]]
    assert _circles({"a": {"b"}, "b": set()}) == []


def test_no_module_imports_itself_back_through_others():
    edges = _graph()
    assert len(edges) > 50  # the walk found the packages
    assert _circles(edges) == []


def test_the_single_run_does_not_reach_up_into_the_sweep_engine_or_the_plugins():
    upper = ("runner.sweeps", "runner.analysis", "hydra_plugins")
    single_run = [
        m
        for m in _graph()
        if m.startswith("runner.") and not m.startswith(upper + ("runner.tables",))
    ]
    edges = _graph()
    upward = sorted(
        f"{m} -> {t}"
        for m in single_run
        if m not in ENTRY_POINTS
        for t in edges[m]
        if t.startswith(upper)
    )
    assert upward == []


def test_nncore_is_numpy_only_and_imports_nothing_of_the_runner():
    edges = _graph()
    assert not [
        f"{m} -> {t}"
        for m in edges
        if m.startswith("nncore")
        for t in edges[m]
        if not t.startswith("nncore")
    ]
