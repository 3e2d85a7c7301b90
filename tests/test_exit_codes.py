"""README's exit-code table, command by command: 2 for a usage error (one line, no traceback),
130 for Ctrl-C; the runner's own 0/1/2/3 are tested in test_cli.py and test_sweep_console.py."""

import pytest
from conftest import run_cli

from runner.commands import run_command


@pytest.mark.parametrize(
    "module, args, line",
    [
        ("runner.compare", [], "compare: no ledger at outputs/runs.csv"),
        ("runner.report", [], "report: no ledger at outputs/runs.csv"),
        ("runner.export", ["mlflow"], "export: no ledger at outputs/runs.csv"),
        ("runner.predict", ["nowhere", "new.csv"], "error: nowhere: no such run folder"),
        ("runner.plot", ["."], "error: .: no metrics.csv (not a run folder"),
    ],
)
def test_a_usage_error_of_every_command_exits_2_in_one_line(tmp_path, module, args, line):
    result = run_cli(tmp_path, *args, module=module)
    assert result.returncode == 2
    assert result.stderr.startswith(line) and len(result.stderr.strip().splitlines()) == 1


def test_a_sweep_asked_for_its_config_exits_2_in_one_line(tmp_path):
    result = run_cli(tmp_path, "-m", "seed=0,1", "--cfg", "hydra", module="runner")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: -m (--multirun) cannot be combined with --cfg")
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_joining_a_ray_cluster_without_its_address_exits_2_before_anything_runs(tmp_path):
    result = run_cli(tmp_path, "-m", "seed=0", "hydra/launcher=ray_cluster", module="runner")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: hydra.launcher.ray.init.address=null: is the head")
    assert not (tmp_path / "outputs" / "runs.csv").exists()


def test_an_unknown_option_exits_2_as_argparse_does(tmp_path):
    result = run_cli(tmp_path, "--bogus", module="runner.compare")
    assert result.returncode == 2 and "unrecognized arguments: --bogus" in result.stderr


def test_ctrl_c_in_a_command_exits_130_without_a_traceback(capsys):
    def interrupted():
        raise KeyboardInterrupt

    with pytest.raises(SystemExit) as stop:
        run_command(interrupted)
    assert stop.value.code == 130
    assert capsys.readouterr().err == "interrupted by SIGINT (Ctrl-C)\n"
