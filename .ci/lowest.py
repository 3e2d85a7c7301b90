"""Print a pip constraints file pinning every dependency to its lower bound in pyproject.toml.

    python .ci/lowest.py dev optuna slurm > lowest.txt
    pip install -c lowest.txt -e ".[dev,optuna,slurm]"

The project's dependencies and the named extras: ``name>=X`` becomes ``name==X``, an exact pin
stays, a requirement without a lower bound is left to pip. What the lowest lane of .ci/lanes
installs, so that the ``>=`` bounds the project declares are ones it is tested on.
"""

import re
import sys
from pathlib import Path

import tomllib

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def lower_bounds(extras):
    project = tomllib.loads(PYPROJECT.read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in extras:
        requirements += project["optional-dependencies"][extra]
    pins = {}
    for requirement in requirements:
        found = re.match(r"([A-Za-z0-9_.-]+)(\[[^\]]*\])?\s*([^;]*)", requirement)
        name, _, specifier = found.groups()
        if name == project["name"]:  # an extra made of other extras
            continue
        bound = re.search(r"(?:>=|==)\s*([^,\s]+)", specifier)
        if bound:
            pins[name.lower()] = bound.group(1)
    return pins


if __name__ == "__main__":
    for name, version in sorted(lower_bounds(sys.argv[1:]).items()):
        print(f"{name}=={version}")
