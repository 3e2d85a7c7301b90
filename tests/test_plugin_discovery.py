"""Another Hydra app (not ``python -m runner``) finds ``hydra/launcher=pool`` once this project
is installed: a regular install on both Hydra majors (1.3 lists the ``hydra_plugins``
namespace), an editable one on Hydra 1.4 (the ``hydra.plugins`` entry points, and no warning
about the namespace it cannot list) and on Hydra 1.3 through the two ways the README gives.

Each case installs a wheel of a copy of the project, built here offline by the running
interpreter's setuptools, into a fresh venv that sees this environment's other packages."""

import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import hydra
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parent.parent
HYDRA_14 = tuple(int(p) for p in hydra.__version__.split(".")[:2]) >= (1, 4)
NAMESPACE_WARNING = "could not discover plugins in an editable hydra_plugins namespace install"
OURS = ("nncore", "runner")
SHARED = ("pyproject.toml", "README.md", "nncore", "runner", "conf", "hydra_plugins")

APP = """\
import os
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
{prolog}

@hydra.main(version_base=None, config_path=".", config_name="config")
def my_app(cfg):
    hydra_cfg = HydraConfig.get()
    out = Path(hydra_cfg.runtime.output_dir) / "out.txt"
    out.write_text(f"{{cfg.x}} {{os.getpid()}} {{hydra_cfg.launcher._target_}}")
    return cfg.x


if __name__ == "__main__":
    my_app()
"""
MAKE_VISIBLE = "from runner.plugins import make_visible\n\nmake_visible()\n"


@pytest.fixture(scope="module")
def wheels(tmp_path_factory):
    """(regular wheel, editable wheel, editable wheel in compat mode) of a copy of the project."""
    src = tmp_path_factory.mktemp("src")
    for name in SHARED:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy2
        copy(ROOT / name, src / name, **_no_caches(copy))
    out = src / "wheels"
    script = textwrap.dedent(f"""
        import setuptools.build_meta as backend
        built = [
            backend.build_wheel({str(out)!r}),
            backend.build_editable({str(out)!r}),
            backend.build_editable({str(out / "compat")!r}, {{"editable_mode": "compat"}}),
        ]
        print("built:", *built)
    """)
    (out / "compat").mkdir(parents=True)
    built = subprocess.run([sys.executable, "-c", script], cwd=src, capture_output=True, text=True)
    if built.returncode != 0:
        pytest.skip(f"cannot build a wheel offline with this setuptools: {built.stderr[-300:]}")
    (line,) = [line for line in built.stdout.splitlines() if line.startswith("built:")]
    regular, editable, compat = line.split()[1:]
    return out / regular, out / editable, out / "compat" / compat


def _no_caches(copy):
    return {"ignore": shutil.ignore_patterns("__pycache__")} if copy is shutil.copytree else {}


def _venv(folder, wheel):
    """A venv with this environment's packages (not this project) and ``wheel`` installed."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", folder], check=True)
    python = folder / "bin" / "python"
    site = next((folder / "lib").glob("python*/site-packages"))
    for entry in Path(sysconfig.get_path("purelib")).iterdir():
        if entry.name.startswith(("nnrunner", "__editable__")) or entry.name in OURS:
            continue
        if entry.name == "hydra_plugins":  # a folder of its own: the install adds to it
            (site / entry.name).mkdir()
            for plugin in entry.iterdir():
                if plugin.name != "nnrunner":
                    (site / entry.name / plugin.name).symlink_to(plugin)
        else:
            (site / entry.name).symlink_to(entry)
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps"]
    subprocess.run([*pip, "--no-index", str(wheel)], check=True)
    return python


def _run_app(python, folder, prolog=""):
    """The plain app, run as a script with -m on the pool: two jobs in two workers."""
    app = folder / "app"
    app.mkdir(parents=True, exist_ok=True)
    (app / "my_app.py").write_text(APP.format(prolog=prolog))
    (app / "config.yaml").write_text("x: 0\n")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    return subprocess.run(
        [
            python,
            "my_app.py",
            "-m",
            "hydra/launcher=pool",
            "hydra.launcher.n_jobs=2",
            "x=1,2",
            f"hydra.sweep.dir={folder / 'sweep'}",
        ],
        cwd=app,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def _assert_ran_on_the_pool(result, folder):
    assert result.returncode == 0, result.stderr
    assert NAMESPACE_WARNING not in result.stderr
    outs = [(folder / "sweep" / str(job) / "out.txt").read_text().split() for job in (0, 1)]
    assert [x for x, _, _ in outs] == ["1", "2"]
    assert {t for _, _, t in outs} == {"hydra_plugins.nnrunner.pool_launcher.PoolLauncher"}
    assert str(os.getpid()) not in {pid for _, pid, _ in outs}


def test_a_plain_app_finds_the_pool_after_a_regular_install(wheels, tmp_path):
    python = _venv(tmp_path / "venv", wheels[0])
    _assert_ran_on_the_pool(_run_app(python, tmp_path), tmp_path)


def test_a_plain_app_finds_the_pool_after_an_editable_install(wheels, tmp_path):
    """Hydra 1.4: through the entry points, without its warning. Hydra 1.3 cannot list an
    editable install's namespace (hydra issue 2359): the app calls make_visible, or the
    project is installed with ``--config-settings editable_mode=compat`` (README)."""
    python = _venv(tmp_path / "venv", wheels[1])
    if HYDRA_14:
        _assert_ran_on_the_pool(_run_app(python, tmp_path), tmp_path)
        return
    plain = _run_app(python, tmp_path / "plain")
    assert plain.returncode != 0 and "Could not find 'hydra/launcher/pool'" in plain.stderr
    _assert_ran_on_the_pool(_run_app(python, tmp_path, MAKE_VISIBLE), tmp_path)
    compat = tmp_path / "compat"
    python = _venv(compat / "venv", wheels[2])
    _assert_ran_on_the_pool(_run_app(python, compat), compat)
