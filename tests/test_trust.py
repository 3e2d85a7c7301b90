"""Where trust ends: a config is code (Hydra instantiates ``_target_``), but nothing the runner
reads back from ledgers, summaries, saved configs or parameter files is ever executed."""

import pandas as pd
from conftest import run_cli

from runner.records import append_to_ledger


def test_compare_and_report_never_run_what_they_read(tmp_path):
    marker = tmp_path / "code-ran"
    run_dir = tmp_path / "outputs" / "runs" / "x"
    (run_dir / ".hydra").mkdir(parents=True)
    (run_dir / ".hydra" / "config.yaml").write_text(
        f"boom:\n  _target_: builtins.open\n  file: {marker}\n  mode: w\nhome: ${{oc.env:HOME}}\n"
    )
    row = {
        "run_id": "r1",
        "status": "ok",
        "run_dir": str(run_dir),
        "overrides": f"+boom._target_=builtins.open +boom.file={marker} +home=${{oc.env:HOME}}",
        "model": "dense2",
        "val_accuracy": 0.9,
        "boom._target_": "builtins.open",
        "boom.file": str(marker),
    }
    append_to_ledger(tmp_path / "outputs" / "runs.csv", row)
    pd.DataFrame([row]).to_csv(run_dir / "summary.csv", index=False)
    compared = run_cli(tmp_path, "--by", "boom._target_", module="runner.compare")
    assert compared.returncode == 0, compared.stderr
    assert "builtins.open" in compared.stdout  # shown as text
    report = run_cli(tmp_path, str(run_dir), "--out", "r.html", module="runner.report")
    assert report.returncode == 0, report.stderr
    page = (tmp_path / "r.html").read_text()
    assert "_target_: builtins.open" in page and "${oc.env:HOME}" in page  # not resolved
    assert not marker.exists()
