"""The Hydra and OmegaConf the runner stands on: what ``@hydra.main`` is given on each major,
the execution whitelist, and one line at start when either is outside the tested range.

Hydra 1.4 deprecates ``version_base`` (removed in 1.5) and restricts ``_target_`` to an
execution whitelist given by trusted code (``hydra/_internal/execution_policy.py``); 1.3 needs
``version_base`` and has no whitelist. The tested ranges are the bounds in pyproject.toml, read
from the installed distribution's metadata, so there is one place to change them.
"""

import inspect
import re
from contextlib import suppress
from importlib import metadata

DISTRIBUTION = "nnrunner"
CHECKED = ("hydra-core", "omegaconf")  # the two whose internals the runner reaches into

# Every _target_ the runner's own configs instantiate, and nothing else: a _target_ a received
# sweep folder or config names is refused (by Hydra on 1.4, by runner.sweeps.resume on both).
CALLBACKS = ("runner.sweeps.callback.SweepRecorder",)  # conf/config.yaml, hydra.callbacks
LAUNCHERS = (
    "hydra_plugins.nnrunner.pool_launcher.PoolLauncher",
    "hydra_plugins.nnrunner.ray_launcher.RayLauncher",
    "hydra_plugins.nnrunner.joblib_launcher.QuietJoblibLauncher",
    "hydra_plugins.nnrunner.submitit_launcher.PackedLocalLauncher",
    "hydra_plugins.nnrunner.submitit_launcher.PackedSlurmLauncher",
)
SWEEPERS = (
    "hydra_plugins.nnrunner.grid_sweeper.GridSweeper",
    "hydra_plugins.nnrunner.optuna_sweeper.OptunaSweeper",
    "hydra_plugins.nnrunner.race_sweeper.RaceSweeper",
)
EXECUTION_WHITELIST = CALLBACKS + LAUNCHERS + SWEEPERS


def main_options(hydra_main=None):
    """Keyword arguments for ``hydra.main`` beyond the config's place, for the installed Hydra:
    1.3 gets ``version_base="1.3"``; a Hydra whose ``main`` takes ``execution_whitelist`` (1.4)
    gets the whitelist and no ``version_base``, which it deprecates."""
    if hydra_main is None:
        import hydra

        hydra_main = hydra.main
    try:
        parameters = inspect.signature(hydra_main).parameters
    except (TypeError, ValueError):
        parameters = ("version_base",)
    if "execution_whitelist" in parameters:
        return {"execution_whitelist": list(EXECUTION_WHITELIST)}
    return {"version_base": "1.3"} if "version_base" in parameters else {}


def version_base():
    """``version_base`` for ``hydra.initialize*`` and ``hydra.main`` where no whitelist is given
    (tests, bench): ``{"version_base": "1.3"}`` on 1.3, which warns without it; ``{}`` on 1.4,
    which deprecates it (removed in 1.5). Neither major warns."""
    options = main_options()
    return {"version_base": options["version_base"]} if "version_base" in options else {}


def has_whitelist():
    """True when the installed Hydra enforces an execution whitelist (1.4 on)."""
    return "execution_whitelist" in main_options()


def refusal(error):
    """Hydra's refusal of a ``_target_`` outside the whitelist -> one line naming the key and
    the target; None for any other error."""
    from hydra.errors import InstantiationException

    text = str(error)
    if not isinstance(error, InstantiationException) or "whitelist" not in text:
        return None
    target = re.search(r"Target '([^']+)'", text)
    key = re.search(r"full_key: (\S+)", text)
    where = f"{key.group(1)}._target_=" if key else "_target_="
    what = target.group(1) if target else text.splitlines()[0]
    return (
        f"{where}{what} refused: not one of the runner's own targets (Hydra's execution "
        "whitelist); a config's _target_ names code to run"
    )


def untested(versions=None, requirements=None):
    """-> one line naming each of hydra-core and omegaconf installed outside the range
    nnrunner declares, with that range; None when all are inside or nothing can be read.

    ``versions`` ({name: version}) and ``requirements`` (requirement strings) default to the
    installed distributions; a missing or unreadable one is left unchecked, never an error."""
    try:
        ranges = tested_ranges(requirements)
        versions = versions if versions is not None else _installed(ranges)
        outside = [
            f"{name} {versions[name]} (tested: {ranges[name]})"
            for name in CHECKED
            if name in ranges and name in versions and not within(versions[name], ranges[name])
        ]
    except Exception:  # noqa: BLE001 - a version check never stops a run
        return None
    if not outside:
        return None
    return f"warning: {', '.join(outside)}: outside the versions nnrunner is tested with; going on"


def tested_ranges(requirements=None):
    """{distribution: specifier} for hydra-core and omegaconf, from nnrunner's requirements."""
    if requirements is None:
        requirements = metadata.requires(DISTRIBUTION) or []
    ranges = {}
    for line in requirements:
        found = re.match(r"\s*([A-Za-z0-9_.-]+)\s*(?:\[[^\]]*\])?\s*([^;]*)", line)
        if found and ";" not in line:
            name = found.group(1).lower().replace("_", "-")
            if name in CHECKED and found.group(2).strip():
                clauses = (c.strip() for c in found.group(2).split(","))
                ranges[name] = ",".join(sorted(clauses, key=lambda c: not c.startswith(">")))
    return ranges


def _installed(ranges):
    versions = {}
    for name in ranges:
        with suppress(metadata.PackageNotFoundError):
            versions[name] = metadata.version(name)
    return versions


def within(version, specifier):
    """Whether ``version`` meets every clause of ``specifier`` (``>=``, ``>``, ``<=``, ``<``,
    ``==``, ``!=`` on release numbers; PEP 440's rule that ``<1.4`` excludes 1.4's
    pre-releases included). A clause it cannot read is not held against the version."""
    key = _key(version)
    for clause in filter(None, (c.strip() for c in specifier.split(","))):
        op, bound = re.match(r"(>=|<=|==|!=|>|<|~=)?\s*(.*)", clause).groups()
        if op in (None, "~=") or "*" in bound:
            continue
        limit = _key(bound)
        if op == "<" and key[0] == limit[0] and key[1] < _FINAL and limit[1] == _FINAL:
            return False  # 1.4.0rc3 is not < 1.4
        holds = {
            ">=": key >= limit,
            ">": key > limit,
            "<=": key <= limit,
            "<": key < limit,
            "==": key == limit,
            "!=": key != limit,
        }[op]
        if not holds:
            return False
    return True


_FINAL = 3
_STAGES = {"dev": 0, "a": 1, "alpha": 1, "b": 2, "beta": 2, "rc": 2.5, "c": 2.5}


def _key(version):
    """'1.4.0rc3' -> ((1, 4, 0), stage, n): release padded to three numbers, then the stage
    (dev < a < b < rc < final < post)."""
    found = re.match(r"v?(\d+(?:\.\d+)*)(?:[.-]?(dev|a|alpha|b|beta|rc|c|post)\.?(\d*))?", version)
    release = tuple(int(part) for part in found.group(1).split("."))
    release = (release + (0, 0, 0))[: max(3, len(release))]
    while len(release) > 3 and release[-1] == 0:
        release = release[:-1]
    stage = found.group(2)
    if stage is None:
        return release, _FINAL, 0
    number = int(found.group(3) or 0)
    return release, (_FINAL + 1 if stage == "post" else _STAGES[stage]), number
