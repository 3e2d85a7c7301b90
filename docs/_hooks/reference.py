"""The reference pages, generated from the code at build time (a MkDocs hook; issue 31).

A page of ``docs/reference/`` that holds ``<!-- generated: NAME -->`` gets ``page(NAME)`` in
its place: ``config`` (every key of ``python -m runner --cfg job`` with its default, the values
the checks allow and its meaning from the comments of ``conf/``), ``columns`` (the ledger,
summary and metrics.csv columns of ``runner.records``, the statuses, and the columns of a
race's race.csv and race_rounds.csv with the comments the code gives them), ``commands`` (every
flag of every command, read from its argument parser) and ``exit-codes`` (``runner.errors``).

What the code has and this file cannot describe (a ledger column, a layer key or an exit code
without a meaning below, a config key without a comment in conf/) is a problem: the hook logs
it as a warning, which fails ``mkdocs build --strict``, and tests/test_docs_site.py fails too.
"""

import argparse
import ast
import contextlib
import functools
import importlib
import io
import logging
import re
import signal
import subprocess
import sys
import tempfile
import tokenize
from pathlib import Path
from unittest import mock

import yaml

ROOT = Path(__file__).resolve().parents[2]
CONF = ROOT / "conf"
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from runner.sweeps.flags import FLAGS as RUNNER_FLAGS  # noqa: E402 - ROOT on sys.path first

MARKER = re.compile(r"^<!-- generated: ([\w-]+) -->$", re.M)  # alone on its line
PROBLEMS = []  # what the code has that this page cannot describe; each fails a strict build
LOG = logging.getLogger("mkdocs.plugins.nnrunner.reference")
GROUPS = ("model", "data", "loss", "optimizer")  # groups whose keys a run reads under their name
PRESET_GROUPS = ("experiment", "hparams_search", "debug")

# The ledger's leading columns (runner.records.RUN_COLUMNS), in words. A column the code adds
# without a line here fails the docs build.
COLUMNS = {
    "run_id": "the run's id: start time and 4 random hex digits, `YYYYmmdd-HHMMSS-ffffff-xxxx`",
    "run_key": "16 hex digits hashing what decides the result: the resolved config without "
    "presentation, path, `runner.*` and `hydra.*` keys, a CSV's content instead of its path, "
    "and the nncore version. Same key, same experiment "
    "([Run keys](../explanation/sweeps.md#run-keys-nothing-run-twice))",
    "status": "how the run ended: one of the [statuses](#statuses)",
    "message": "why a run is not `ok` (the error, the sign of divergence, the signal), or how "
    "it stopped early",
    "started_at": "when the run started, local time, ISO 8601",
    "seconds": "the run's wall time, start to end",
    "run_dir": "the run's folder (for a reused job: the earlier run's folder)",
    "reused_from": "in a sweep job not run again: the folder of the earlier `ok` run with the "
    "same `run_key` (summary rows only; the ledger gets no row for it)",
    "overrides": "the command-line overrides of the run or job, space-separated",
    "sweep_dir": "the sweep's folder, for a sweep job; empty for a single run",
    "job": "the job's number in its sweep (`hydra.job.num`)",
    "trial": "the search trial the job ran for (`runner.trial`); empty outside a search",
    "model": "the `model` group option chosen (`dense2`, ...)",
    "data": "the `data` group option chosen (`spiral`, `csv`, ...)",
    "loss": "the loss the run trained with",
    "optimizer": "the `optimizer` group option chosen",
    "epochs_done": "epochs trained (fewer than `trainer.epochs` when it stopped early)",
    "best_epoch": "the logged epoch where `trainer.early_stopping.monitor` was best",
    "train_loss": "training data loss of the kept parameters (`trainer.keep`)",
    "train_accuracy": "training accuracy of the kept parameters (classification)",
    "val_loss": "validation loss of the kept parameters",
    "val_accuracy": "validation accuracy of the kept parameters (classification)",
    "test_loss": "test loss of the kept parameters, scored once at the end "
    "(with a test split: `data.test_fraction`)",
    "test_accuracy": "test accuracy of the kept parameters (classification, with a test split)",
    "best_val_loss": "the lowest validation loss over the logged epochs",
    "best_val_accuracy": "the highest validation accuracy over the logged epochs",
    "n_parameters": "the number of trained parameters (weights and biases)",
    "train_rmse": "training RMSE of the kept parameters (regression)",
    "val_rmse": "validation RMSE (regression)",
    "val_mae": "validation mean absolute error (regression)",
    "val_r2": "validation R² (regression)",
    "test_rmse": "test RMSE (regression, with a test split)",
    "test_mae": "test mean absolute error (regression, with a test split)",
    "test_r2": "test R² (regression, with a test split)",
    "data_sha256": "`data=csv`: the SHA-256 of the file's content, what `compare` keys a "
    "section by; empty for generated data",
}
METRICS = {  # metrics.csv columns (runner.records.METRIC_COLUMNS, REGRESSION_METRIC_COLUMNS)
    "epoch": "the epoch; 0 is the untrained network (the plain forward pass)",
    "train_loss": "mean training data loss over the epoch's steps (without the penalty)",
    "train_accuracy": "training accuracy (classification)",
    "train_rmse": "training RMSE (regression)",
    "val_loss": "validation data loss",
    "val_accuracy": "validation accuracy (classification)",
    "val_rmse": "validation RMSE (regression)",
    "val_mae": "validation mean absolute error (regression)",
    "val_r2": "validation R² (regression)",
    "regularization_loss": "the L1/L2 penalty, apart from the data loss",
    "learning_rate": "the learning rate at that epoch (`learning_rate / (1 + decay * step)`)",
    "seconds": "seconds since training started",
}
STATUSES = {  # runner.records.STATUSES (not_started: a summary row only)
    "ok": "finished",
    "diverged": "the loss or a parameter went wrong (NaN, infinite, saturated, or the loss "
    "ended above 1.5 x the untrained one); `message` names the sign",
    "failed": "a config mistake or an error; `message` says which",
    "interrupted": "a stop signal (Ctrl-C, SIGTERM, SIGHUP) or `runner.max_failures` reached; "
    "the rows logged so far are kept",
    "pruned": "a search's pruner stopped it (`hydra/sweeper/pruner=...`)",
    "not_started": "a sweep job whose task ended before it began: a summary row, no ledger "
    "row; `--resume` runs it",
}
EXIT_CODES = {  # runner.errors.EXIT_*, then 128 + each stop signal's number
    "EXIT_OK": "everything ok",
    "EXIT_FAILED": "a run or a sweep's job failed or diverged (or a disk was full)",
    "EXIT_USAGE": "a usage or config error: a bad option, override, key, value or file",
    "EXIT_UNFINISHED": "a sweep that ended with jobs `interrupted` or not started "
    "(`--resume` finishes it)",
    "SIGINT": "stopped by Ctrl-C",
    "SIGTERM": "stopped by SIGTERM (`kill`, Slurm, Kubernetes)",
    "SIGHUP": "stopped by a closed terminal",
}
LAYER_KEYS = {  # runner.build.LAYER_KEYS: the keys of one entry of model.layers
    "units": "the layer's width (required)",
    "activation": "the activation after the layer (required)",
    "dropout": "fraction of the layer's outputs dropped in each training step (0 = none)",
    "weight_init": "the layer's initialiser, in place of `model.weight_init`",
    "weight_scale": "the layer's scale of the `normal` initialiser, in place of "
    "`model.weight_scale`",
    "weight_regularizer_l1": "L1 penalty on the layer's weights",
    "weight_regularizer_l2": "L2 penalty on the layer's weights",
    "bias_regularizer_l1": "L1 penalty on the layer's biases",
    "bias_regularizer_l2": "L2 penalty on the layer's biases",
}
KEY_MEANINGS = {  # group keys that no file of conf/ comments on
    "data.classes": "number of classes (arms, stripes, blobs)",
    "data.spread": "blob centres are drawn in [-spread, spread] on each axis",
    "data.fold": "with `data.folds=k`: the validation fold, 0 to k-1 (sweep it to cross-validate)",
    "optimizer.learning_rate": "the step size at step 0; it decays as "
    "`learning_rate / (1 + decay * step)`",
    "optimizer.epsilon": "added to the denominator of the adaptive step, against division by 0",
    "optimizer.beta_1": "Adam: decay of the running mean of gradients (momentum)",
    "optimizer.beta_2": "Adam: decay of the running mean of squared gradients",
}

# race.csv's and race_rounds.csv's columns take their meanings from the comments beside them in
# the code (runner.sweeps.race.outcome.COLUMNS, the fields of runner.sweeps.race.race.Round);
# these are for the columns the code does not comment on (none now).
RACE_MEANINGS: dict = {}

MARKER_FOLDERS = (".running", ".claims")  # listed as a folder: their files are one per job
# What runs write, by where it is (runner.records, runner.sweeps); files_page lists what a run
# and a sweep really write, and a file without a line here fails the build.
FILES = {
    "outputs": {
        "runs.csv": "the ledger: one row per run ever made from this folder ([below](#the-ledger))",
        "runs.csv.lock": "the ledger's file lock: parallel jobs append one at a time",
        ".runs.csv.index.npz": "the ledger's `run_key` and `status` columns as scanned, so a "
        "later sweep reads only the rows appended since",
        ".claims/": "one file per run key a job has trained, named by the key and holding its "
        "last holder's name (pid, host, since), locked while the job trains: two sweeps "
        "started at once never train one experiment twice",
    },
    "run": {
        "metrics.csv": "one row per logged epoch: epoch 0 (the untrained network), every "
        "`trainer.log_every` epochs, and the last; flushed as written. `train_*` are the means "
        "over the epoch's steps; losses are data losses (the L1/L2 penalty is the separate "
        "`regularization_loss` column). [Its columns](columns.md#metricscsv-columns)",
        "summary.csv": "one row, the same columns as the ledger",
        "params.npz": "the kept parameters (`nncore.Model.load` reads them; no pickle)",
        "preprocessing.json": "how the data became inputs (columns, vocabularies, scaling, "
        "classes): what `runner.predict` applies to new rows",
        "curves.png": "loss and accuracy (or RMSE), train and validation, by epoch; drawn in a "
        "single run (`trainer.plots`), or later by `python -m runner.plot`",
        "boundary.png": "the decision regions over the data (2-D classification)",
        "fit.png": "the fit (regression on one input), in place of `boundary.png`",
        ".hydra/config.yaml": "the resolved config",
        ".hydra/hydra.yaml": "Hydra's own config of the run",
        ".hydra/overrides.yaml": "the command-line overrides",
        "job.log": "sweep jobs: what the job printed",
        "error.log": "only when a run hit a bug: its traceback",
        "attempts/": "in a sweep job run again by `--resume`: the earlier attempt's files",
    },
    "sweep": {
        "summary.csv": "one row per job, rebuilt from the job folders (so it is complete "
        "whichever launcher ran them) and written even when the sweep is stopped",
        "multirun.yaml": "the sweep's config and overrides: what `--resume` reads",
        ".planned.csv": "a grid sweep: every job it means to run (number, overrides), so its "
        "summary lists those that never started as `not_started`",
        ".sweep.lock": "held by the process running the sweep: a second `--resume` of the "
        "folder says who holds it (from `.sweep.holder`, there only while the sweep runs) "
        "and exits 2, or waits with `--wait`",
        ".known_runs.npz": "the ledger's keys when the sweep started: what each job looks up "
        "to skip an experiment already done",
        ".running/": "one marker per running job (host and pid), removed once the job has "
        "recorded itself: a stop signal reaches every job before the launcher unwinds",
        "optimization_results.yaml": "a search: the best trial(s), parameters, importances",
        "trials.csv": "a search: one row per trial (parameters, value, state, seeds)",
        "study.log": "a search: the Optuna study (JournalStorage); `storage=sqlite` keeps "
        "`study.db` instead",
    },
    "race": {
        "race.csv": "one row per configuration: its status (winner, tied, eliminated, "
        "stopped), seeds, mean, failed runs, and the round and p-value that eliminated it "
        "([its columns](columns.md#racecsv-columns))",
        "race_rounds.csv": "one row per round: who raced, the seeds each had, the runs "
        "launched, the eliminated, the test's p-value and the times "
        "([its columns](columns.md#race_roundscsv-columns))",
    },
}
COMMANDS = ("runner.compare", "runner.report", "runner.predict", "runner.plot", "runner.export")


def problem(text):
    if text not in PROBLEMS:
        PROBLEMS.append(text)


def on_page_markdown(markdown, page, config, files):
    """MkDocs hook: every ``<!-- generated: NAME -->`` becomes that generated text."""
    markdown = MARKER.sub(lambda m: generated(m.group(1)), markdown)
    for text in PROBLEMS:
        LOG.warning("reference: %s", text)
    PROBLEMS.clear()
    return markdown


def generated(name):
    try:
        return page(name)
    except Exception as error:  # the build says what broke; strict mode fails on it
        problem(f"{name}: {type(error).__name__}: {error}")
        return f"*(not generated: {error})*"


def page(name):
    return {
        "config": config_page,
        "groups": groups_page,
        "columns": columns_page,
        "commands": commands_page,
        "exit-codes": exit_codes_page,
        "files": files_page,
        "hydra": hydra_page,
    }[name]()


# -- config ------------------------------------------------------------------------------------


@functools.lru_cache
def composed():
    """The default config, as ``python -m runner --cfg job`` prints it."""
    with tempfile.TemporaryDirectory() as folder:
        shown = subprocess.run(
            [sys.executable, "-m", "runner", "--cfg", "job"],
            cwd=folder,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    return yaml.safe_load(shown)


def flat(node, prefix=""):
    """{dotted key: value}, a dict's keys one by one, a list as one value."""
    out = {}
    for key, value in node.items():
        if isinstance(value, dict) and value:
            out.update(flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


_KEY_LINE = re.compile(r"^(?P<indent>\s*)(?P<item>- )?(?P<key>[\w.]+):(?P<rest>.*)$")
_COMMENT = re.compile(r"(?:^|\s)#\s?(?P<text>.*)$")


def comments(path, prefix=""):
    """{dotted key: its comment} of a YAML file: the comment on the key's line and the comment
    lines under it; list items' comments go to the list's key. ``(header)`` is the file's
    leading comment."""
    found, stack, last, header = {}, [], None, []
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if not stripped:
            last = None
            continue
        if stripped.startswith("#"):
            text = stripped.lstrip("#").strip()
            if last is not None:
                found[last] = f"{found.get(last, '')} {text}".strip()
            elif not stack and not found and not text.startswith("@package"):
                header.append(text)
            continue
        match = _KEY_LINE.match(line)
        if not match:
            continue
        indent = len(match["indent"])
        comment = _COMMENT.search(match["rest"])
        if match["item"]:  # a list entry: its comment continues the list's key
            if last is not None and comment:
                found[last] = f"{found.get(last, '')} {comment['text'].strip()}".strip()
            continue
        while stack and stack[-1][0] >= indent:
            stack.pop()
        key = ".".join([prefix.rstrip(".")] * bool(prefix) + [k for _, k in stack] + [match["key"]])
        stack.append((indent, match["key"]))
        last = key if comment else None
        if comment:
            found[key] = comment["text"].strip()
    if header:
        found["(header)"] = " ".join(header)
    return found


def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def _value(value):
    if value is None:
        return "`null`"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, (list, dict)):
        return f"`{yaml.safe_dump(value, default_flow_style=True, width=10**6).strip()}`"
    return f"`{value}`"


SENTINEL = "not-a-valid-value"
# The values each key is given in turn until a check rejects one: a number below every range
# the checks allow (so a range check speaks: "must be a number > 0" where a word meets only the
# type check, "must be a number"), then a word no check takes. A key that is required (`???`)
# is first probed left out.
PROBES = (-1, SENTINEL)
# A key the checks read only together with another is probed with that other key set so.
PROBE_CONTEXT = {"data.fold": {"data.folds": 5}}  # fold is checked against folds (null: off)
# data=csv is probed on a small file, so that the checks made as the file is read (data.task,
# data.features) speak too; these fill the option's required keys for the probes of the others.
PROBE_CSV = "probe.csv"
PROBE_CSV_HEADER = ("x1", "x2", "label")
PROBE_FILLS = {("data", "csv"): {"path": PROBE_CSV, "target": "label"}}
CRASHED = {}  # "key=value": the error a probe met that is not a one-line ConfigError (a bug)


def _write_probe_csv(folder):
    rows = [",".join(PROBE_CSV_HEADER)]
    rows += [f"{i},{(i * 7) % 13},{i % 2}" for i in range(40)]  # two classes, 20 rows each
    (Path(folder) / PROBE_CSV).write_text("\n".join(rows) + "\n")


def rejections(cfg, base_dir):
    """The ConfigErrors a run meets on ``cfg`` before it trains, found as the run finds them
    (runner.train): the trainer, runner and data checks together, then the data drawn or read
    and the model and optimizer built (runner.build, which names the key of nncore's errors)."""
    from runner import checks
    from runner.build import dataset_and_model
    from runner.data import check_data_config
    from runner.errors import Problems

    problems = Problems()
    with problems.check():
        checks.check_trainer(cfg)
    with problems.check():
        checks.check_runner(cfg)
    with problems.check():
        check_data_config(cfg.data, base_dir)
    if not problems.errors:
        with problems.check():
            dataset_and_model(cfg, 0, base_dir)
    return problems.errors


def _at(node, key):
    """The raw value at a dotted key (list items by index), or None."""
    for part in key.split("."):
        if isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        elif isinstance(node, dict):
            node = node.get(part)
        else:
            return None
    return node


def _probe(raw, key, base_dir, first=()):
    """What the checks say of ``key`` given each probe value in turn (``first`` before
    PROBES), as a run says it: the first rejection that names the key, or a key whose value is
    ``${key}`` (``model.width`` is checked as ``model.layers.0.units``); "" if none does."""
    from omegaconf import OmegaConf

    for value in (*first, *PROBES):
        cfg = OmegaConf.create(raw)
        for other, given in PROBE_CONTEXT.get(key, {}).items():
            OmegaConf.update(cfg, other, given, merge=False)
        OmegaConf.update(cfg, key, value, merge=False)
        try:
            found = rejections(cfg, base_dir)
        except Exception as error:  # noqa: BLE001 - a traceback where a user needs a line
            CRASHED[f"{key}={value}"] = f"{type(error).__name__}: {error}"
            continue
        for one in found:
            if one.key == key:
                return one.problem.removeprefix("choose one of: ")
            if _at(raw, one.key) == f"${{{key}}}":
                return f"{one.problem} (as `{one.key}`)"
    return ""


def _unprobed(text, folder):
    """A message without what the probe's own file put in it: its name becomes `data.path`,
    its list of columns goes."""
    from runner.tables.header import shown_columns

    text = text.replace(f"; {shown_columns(PROBE_CSV_HEADER)}", "")
    return text.replace(str(Path(folder) / PROBE_CSV), "`data.path`").replace(
        PROBE_CSV, "`data.path`"
    )


def _merged(said):
    """{option: text} -> one cell: the text, or each text after the options that say it when
    the options differ (an empty text: that option's check takes any value)."""
    texts = {}
    for option, text in said.items():
        texts.setdefault(text, []).append(option)
    if len(texts) == 1:
        return next(iter(texts))
    return "; ".join(f"{', '.join(options)}: {text}" for text, options in texts.items() if text)


@functools.lru_cache
def allowed_by_checks():
    """{key: what its check says is allowed}, found by giving each key values no check takes
    (PROBES) and reading the run's one-line error: the run-level keys in the default config,
    and each key of each option of each group with that option chosen. Keys whose values
    nncore registers (allowed_by_registries) are not probed."""
    allowed = {}
    base = composed()
    registered = allowed_by_registries()
    with tempfile.TemporaryDirectory() as folder:
        _write_probe_csv(folder)
        for key in flat(base):
            if key.split(".")[0] not in GROUPS:
                allowed[key] = _probe(base, key, folder)
        said = {}
        for group in GROUPS:
            for option in _options(group):
                node = yaml.safe_load((CONF / group / f"{option}.yaml").read_text()) or {}
                raw = {**base, group: {**node, **PROBE_FILLS.get((group, option), {})}}
                for key, value in flat(node, f"{group}.").items():
                    if key in registered:
                        continue
                    first = ("???",) if value == "???" else ()
                    text = _unprobed(_probe(raw, key, folder, first), folder)
                    said.setdefault(key, {})[option] = text
        allowed.update({key: _merged(texts) for key, texts in said.items()})
    return {key: text for key, text in allowed.items() if text}


@functools.lru_cache
def allowed_by_registries():
    """{key: its allowed values}, for the keys whose values are names nncore registers."""
    import nncore
    from runner.build import LOSS_TASKS

    def names(registry):
        return "one of: " + ", ".join(f"`{n}`" for n in registry)

    return {
        "model.weight_init": names(nncore.INITIALIZERS),
        "model.output.activation": names(["auto", *sorted(nncore.ACTIVATIONS)]),
        "model.layers": "a list of layers; each layer's keys are [below](#a-layer-of-modellayers)",
        "loss.name": names(LOSS_TASKS),
        "optimizer.name": names(sorted(nncore.OPTIMIZERS)),
        "data.name": names([*sorted(nncore.DATASETS), "csv"]),
    }


def _group_meaning(key, meanings, default):
    """A group key's comment: the default option's first, then each other wording, named by
    the options that use it; KEY_MEANINGS for a key no option file comments on."""
    said = {}
    for option, found in meanings.items():
        if key in found:
            said.setdefault(found[key], []).append(option)
    if not said:
        return KEY_MEANINGS.get(key)
    first = next((text for text, options in said.items() if default in options), None)
    if len(said) == 1:
        return next(iter(said))
    parts = [first] if first else []
    parts += [f"{', '.join(o)}: {text}" for text, o in said.items() if text != first]
    return "; ".join(parts)


def _allowed(key):
    text = allowed_by_checks().get(key) or allowed_by_registries().get(key)
    return text.removeprefix("choose one of: ") if text else ""


def config_page():
    """Run-level keys (conf/config.yaml and its runner, trainer and paths parts)."""
    base = flat(composed())
    top = comments(CONF / "config.yaml")
    rows = ["| key | default | allowed | meaning |", "|---|---|---|---|"]
    for key, value in base.items():
        if key.split(".")[0] in GROUPS:
            continue
        meaning = top.get(key)
        if meaning is None:
            problem(f"config key {key} has no comment in conf/config.yaml")
            meaning = ""
        rows.append(f"| `{key}` | {_value(value)} | {_cell(_allowed(key))} | {_cell(meaning)} |")
    parts = ["## Run-level keys", "", *rows, ""]
    for group in GROUPS:
        parts += group_keys(group, base)
    parts += layer_keys()
    return "\n".join(parts)


def _options(group):
    return sorted(p.stem for p in (CONF / group).glob("*.yaml"))


def _defaults():
    """{group: its default option} from conf/config.yaml's defaults list."""
    chosen = {}
    for entry in yaml.safe_load((CONF / "config.yaml").read_text())["defaults"]:
        if isinstance(entry, dict):
            for group, option in entry.items():
                chosen[group] = option
    return chosen


def group_keys(group, base):
    """A group's options, and every key any of its options sets, with the value in each."""
    default = _defaults().get(group)
    values, meanings = {}, {}
    for option in _options(group):
        path = CONF / group / f"{option}.yaml"
        for key, value in flat(yaml.safe_load(path.read_text()) or {}, f"{group}.").items():
            values.setdefault(key, {})[option] = value
        meanings[option] = comments(path, f"{group}.")
    order = [k for k in base if k.startswith(f"{group}.")]
    order += [k for k in values if k not in order]
    lines = [
        f"## `{group}.*`",
        "",
        f"Choose an option with `{group}=OPTION` (default: `{default}`); each option is a file, "
        f"`conf/{group}/OPTION.yaml`, and sets the keys below. In `python -m runner --cfg job` "
        f"they are the `{default}` option's.",
        "",
        "| key | default, and in each option | allowed | meaning |",
        "|---|---|---|---|",
    ]
    for key in order:
        per_option = values.get(key, {})
        shown = []
        if key in base:
            shown.append(f"{_value(base[key])}")
        shown += [f"{option}: {_value(v)}" for option, v in per_option.items() if option != default]
        meaning = _group_meaning(key, meanings, default)
        if meaning is None and key.endswith(".name"):
            meaning = f"the {group} the option names (set by `{group}=OPTION`)"
        if meaning is None:
            problem(f"config key {key} has no comment in any conf/{group}/*.yaml")
            meaning = ""
        allowed = _allowed(key)
        if allowed == meaning:
            allowed = ""
        rows = f"| `{key}` | {_cell('<br>'.join(shown))} | {_cell(allowed)} | {_cell(meaning)} |"
        lines.append(rows)
    return [*lines, ""]


def layer_keys():
    import nncore
    from runner.build import LAYER_KEYS as KEYS

    lines = [
        "## A layer of `model.layers`",
        "",
        "Each entry of `model.layers` is a hidden layer, first to last; the output layer is "
        "added for the data. Change a layer's key with `model.layers.0.units=32`, add one with "
        "`+model.layers.0.dropout=0.2`.",
        "",
        "| key | meaning |",
        "|---|---|",
    ]
    for key in KEYS:
        meaning = LAYER_KEYS.get(key)
        if meaning is None:
            problem(f"layer key {key} (runner.build.LAYER_KEYS) has no meaning in the reference")
            meaning = ""
        if key == "activation":
            meaning += ": " + ", ".join(f"`{n}`" for n in sorted(nncore.ACTIVATIONS))
        if key == "weight_init":
            meaning += ": " + ", ".join(f"`{n}`" for n in nncore.INITIALIZERS)
        lines.append(f"| `{key}` | {_cell(meaning)} |")
    return [*lines, ""]


def groups_page():
    """Every config group and its options, with each option file's leading comment."""
    chosen = _defaults()
    lines = []
    for group in (*GROUPS, *PRESET_GROUPS):
        lines += [f"## `{group}=`", "", "| option | what it is |", "|---|---|"]
        for option in _options(group):
            header = comments(CONF / group / f"{option}.yaml").get("(header)", "")
            mark = " (default)" if chosen.get(group) == option else ""
            lines.append(f"| `{group}={option}`{mark} | {_cell(header)} |")
        lines.append("")
    return "\n".join(lines)


# -- columns and statuses ----------------------------------------------------------------------


def _described(names, meanings, where):
    rows = ["| column | meaning |", "|---|---|"]
    for name in names:
        meaning = meanings.get(name)
        if meaning is None:
            problem(f"{where} column {name} has no meaning in docs/_hooks/reference.py")
            meaning = ""
        rows.append(f"| `{name}` | {_cell(meaning)} |")
    return rows


def columns_page():
    from runner.records import METRIC_COLUMNS, REGRESSION_METRIC_COLUMNS, RUN_COLUMNS
    from runner.records import STATUSES as CODE_STATUSES

    metric_names = list(dict.fromkeys(METRIC_COLUMNS + REGRESSION_METRIC_COLUMNS))
    lines = [
        "## Ledger and summary columns",
        "",
        "`outputs/runs.csv` (the ledger), a run's `summary.csv` and a sweep's `summary.csv` "
        "share these columns, in this order; then every scalar of the resolved config follows "
        "as a dotted column (`optimizer.learning_rate`, `model.width`, `seed`, ...: every key "
        "of the [configuration reference](config.md)).",
        "",
        *_described(RUN_COLUMNS, COLUMNS, "ledger"),
        "",
        "## metrics.csv columns",
        "",
        "One row per logged epoch: epoch 0, every `trainer.log_every` epochs, and the last. A "
        "classification run has `"
        + ", ".join(METRIC_COLUMNS)
        + "`; a regression run `"
        + ", ".join(REGRESSION_METRIC_COLUMNS)
        + "`.",
        "",
        *_described(metric_names, METRICS, "metrics.csv"),
        "",
        "## Statuses",
        "",
        "| status | meaning |",
        "|---|---|",
    ]
    for status in dict.fromkeys((*CODE_STATUSES, "not_started")):
        meaning = STATUSES.get(status)
        if meaning is None:
            problem(f"status {status} (runner.records.STATUSES) has no meaning")
            meaning = ""
        lines.append(f"| `{status}` | {_cell(meaning)} |")
    lines += ["", *race_columns()]
    return "\n".join([*lines, ""])


def code_comments(module_name, name):
    """{item: the comment on its line} of ``name`` in a module's source: a list of strings
    (``COLUMNS = ["a",  # what a is``) or a class's annotated fields (``a: int  # what a is``)."""
    source = Path(importlib.import_module(module_name).__file__).read_text()
    by_line = {
        token.start[0]: token.string.lstrip("#").strip()
        for token in tokenize.generate_tokens(io.StringIO(source).readline)
        if token.type == tokenize.COMMENT
    }
    for node in ast.parse(source).body:
        if isinstance(node, ast.Assign) and any(
            isinstance(target, ast.Name) and target.id == name for target in node.targets
        ):
            items = [(e.value, e.lineno) for e in node.value.elts if isinstance(e, ast.Constant)]
            break
        if isinstance(node, ast.ClassDef) and node.name == name:
            items = [
                (field.target.id, field.lineno)
                for field in node.body
                if isinstance(field, ast.AnnAssign) and isinstance(field.target, ast.Name)
            ]
            break
    else:
        raise LookupError(f"{module_name} has no {name}")
    return {item: by_line.get(line, "") for item, line in items}


def race_columns():
    """The columns of race.csv and race_rounds.csv, with the meanings the code gives them."""
    from runner.sweeps.race.outcome import COLUMNS as RACE_COLUMNS
    from runner.sweeps.race.race import Round

    lines = []
    for file, names, meanings in (
        ("race.csv", RACE_COLUMNS, code_comments("runner.sweeps.race.outcome", "COLUMNS")),
        (
            "race_rounds.csv",
            list(Round.__annotations__),
            code_comments("runner.sweeps.race.race", "Round"),
        ),
    ):
        meanings = {n: meanings.get(n) or RACE_MEANINGS.get((file, n)) for n in names}
        lines += [f"## {file} columns", ""]
        lines.append(
            "One row per configuration of a [race](../how-to/race.md) (`hydra/sweeper=race`), "
            "in the grid's order."
            if file == "race.csv"
            else "One row per round of the race, in order."
        )
        lines += ["", *_described(names, meanings, file), ""]
    return lines


def exit_codes_page():
    from runner import errors

    codes = [(getattr(errors, name), name) for name in dir(errors) if name.startswith("EXIT_")]
    from runner.interrupts import STOP_SIGNALS

    codes += [(128 + int(s), signal.Signals(s).name) for s in STOP_SIGNALS]
    lines = ["| code | meaning |", "|---|---|"]
    for code, name in sorted(codes):
        meaning = EXIT_CODES.get(name)
        if meaning is None:
            problem(f"exit code {name} = {code} has no meaning in docs/_hooks/reference.py")
            meaning = ""
        lines.append(f"| {code} | {_cell(meaning)} (`{name}`) |")
    return "\n".join([*lines, ""])


RACE_COMMAND = [  # a race of one round: two configurations x two seeds
    "-m",
    "hydra/sweeper=race",
    "model.width=4,8",
    "hydra.sweeper.min_seeds=2",
    "hydra.sweeper.max_seeds=2",
    "trainer.epochs=1",
    "hydra.sweep.dir=race",
]


def written():
    """{where: [files]} that a run, a two-job sweep and a one-round race write, in a
    temporary folder; ``race`` holds what a race's folder has beyond a sweep's."""
    with tempfile.TemporaryDirectory() as folder:
        for command in (
            ["trainer.epochs=1", "seed=5"],
            ["-m", "seed=0,1", "trainer.epochs=1"],
            RACE_COMMAND,
        ):
            subprocess.run(
                [sys.executable, "-m", "runner", *command],
                cwd=folder,
                capture_output=True,
                check=True,
            )
        outputs = Path(folder) / "outputs"
        run = next((outputs / "runs").glob("*/*"))
        sweep = next((outputs / "sweeps").glob("*/*"))

        def listed(path, skip=()):
            names = []
            for item in sorted(path.rglob("*")):
                relative = item.relative_to(path)
                top = relative.parts[0]
                if top in skip or (item.is_dir() and top not in MARKER_FOLDERS):
                    continue
                names.append(f"{top}/" if top in MARKER_FOLDERS else str(relative))
            return list(dict.fromkeys(names))

        race = Path(folder) / "race"
        race_jobs = tuple(p.name for p in race.iterdir() if p.is_dir() and p.name.isdigit())
        return {
            "outputs": listed(outputs, skip=("runs", "sweeps")),
            "run": listed(run) + listed(sweep / "0") + listed(race / "0"),
            "sweep": listed(sweep, skip=("0", "1")),
            "race": [name for name in listed(race, skip=race_jobs) if name not in FILES["sweep"]],
        }


def files_page():
    found = written()
    titles = {
        "outputs": "## In `outputs/`",
        "run": "## In a run's folder",
        "sweep": "## In a sweep's folder",
        "race": "## In a race's folder, besides a sweep's",
    }
    lines = []
    for where, meanings in FILES.items():
        seen = list(dict.fromkeys(found[where]))
        for name in seen:
            if name not in meanings:
                problem(f"{where} file {name} has no meaning in docs/_hooks/reference.py FILES")
        lines += [titles[where], "", "| file | what it holds |", "|---|---|"]
        for name in dict.fromkeys([*seen, *meanings]):
            lines.append(f"| `{name}` | {_cell(meanings.get(name, ''))} |")
        lines.append("")
    return "\n".join(lines)


# The launchers, sweepers, samplers and pruners whose keys the hydra page shows.
HYDRA_OPTIONS = {
    "launcher": ("pool", "basic", "joblib", "ray", "ray_cluster", "submitit_local", "slurm"),
    "sweeper": ("grid", "optuna", "race"),
    "sweeper/sampler": ("tpe", "random", "cmaes", "grid", "qmc", "nsgaii"),
    "sweeper/pruner": ("none", "median", "asha", "hyperband"),
}
# Keys that neither their config's comments nor the docstring of what it builds describe.
# Any other key without a meaning fails the build.
HYDRA_MEANINGS = {
    "submitit_folder": "where submitit keeps each task's script, logs and results",
    **{
        key: f"sbatch's `--{key.replace('_', '-')}` (submitit passes it on; `null`: not given)"
        for key in (
            "qos",
            "comment",
            "constraint",
            "exclude",
            "gres",
            "cpus_per_gpu",
            "gpus_per_task",
            "mem_per_gpu",
            "mem_per_cpu",
            "account",
        )
    },
}


def hydra_keys():
    """{choice: {key: {default, type, meaning}}}, composed in another process
    (docs/_hooks/hydra_keys.py) as a run composes them."""
    choices = [f"hydra/{group}={o}" for group, options in HYDRA_OPTIONS.items() for o in options]
    shown = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("hydra_keys.py")), str(CONF), *choices],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return yaml.safe_load(shown)


def hydra_page():
    """Each launcher's, sweeper's, sampler's and pruner's keys: default, type and meaning."""
    lines = []
    for choice, keys in hydra_keys().items():
        group, option = choice.removeprefix("hydra/").split("=")
        preset = CONF / "hydra" / group / f"{option}.yaml"
        from_preset = comments(preset) if preset.is_file() else {}
        node = f"hydra.{group.replace('/', '.')}"
        lines += [f"## `{choice}`", ""]
        if from_preset:
            lines += [f"A preset of the runner's, `{preset.relative_to(ROOT)}`.", ""]
        shown = {k: v for k, v in keys.items() if not k.startswith(("sampler.", "pruner."))}
        if not shown:
            lines += ["No keys.", ""]
            continue
        lines += [f"| `{node}.` key | default | type | meaning |", "|---|---|---|---|"]
        for key, about in shown.items():
            meaning = from_preset.get(key) or about["meaning"] or HYDRA_MEANINGS.get(key)
            if not meaning:
                problem(f"{choice}: key {key} has no meaning (comment its config)")
            meaning = (meaning or "").replace("{", "\\{")  # not attr_list's attributes
            cells = (f"`{key}`", _value(about["default"]), about["type"], meaning)
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        lines.append("")
    return "\n".join(lines)


# -- commands ----------------------------------------------------------------------------------


class _Parsed(Exception):
    pass


def _capture(self, *args, **kwargs):
    raise _Parsed(self)


def command_parsers():
    """[(command, its argparse parser)], each read by calling the command's main with
    parse_args stopped before it parses."""
    found = []
    for name in COMMANDS:
        module = importlib.import_module(name)
        with (
            mock.patch.object(argparse.ArgumentParser, "parse_args", _capture),
            mock.patch.object(argparse.ArgumentParser, "parse_known_args", _capture),
        ):
            try:
                module.main([])
            except _Parsed as parsed:
                found.append((f"python -m {name}", parsed.args[0]))
                continue
        problem(f"{name}.main did not build an argument parser")
    return found


def _flag_rows(parser):
    rows = ["| argument | default | meaning |", "|---|---|---|"]
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            continue
        if action.option_strings:
            names = ", ".join(f"`{flag}`" for flag in action.option_strings)
            if action.nargs != 0 and action.metavar != argparse.SUPPRESS:
                metavar = action.metavar or action.dest.upper()
                if isinstance(metavar, tuple):
                    metavar = " ".join(metavar)
                names += f" `{metavar}`"
        else:
            names = f"`{action.metavar or action.dest}`"
        default = action.default
        shown = "" if default in (None, False, [], argparse.SUPPRESS) else _value(default)
        meaning = str(action.help or "").split("\n")[0].strip()  # Hydra's -sc help: many lines
        if action.choices and not isinstance(action, argparse._SubParsersAction):
            meaning += f" (one of: {', '.join(map(str, action.choices))})"
        rows.append(f"| {names} | {_cell(shown)} | {_cell(meaning)} |")
    return rows


def _usage(parser):
    return parser.format_usage().removeprefix("usage: ").strip()


def commands_page():
    lines = runner_command()
    for command, parser in command_parsers():
        rows = _flag_rows(parser)
        lines += [
            f"## `{command}`",
            "",
            parser.description or "",
            "",
            "```text",
            _usage(parser),
            "```",
            "",
            *(rows if len(rows) > 2 else []),
            "",
        ]
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub, subparser in action.choices.items():
                    lines += [
                        f"### `{command} {sub}`",
                        "",
                        subparser.description or "",
                        "",
                        "```text",
                        _usage(subparser),
                        "```",
                        "",
                        *_flag_rows(subparser),
                        "",
                    ]
    return "\n".join(lines)


def runner_command():
    """``python -m runner``: Hydra's own flags (its argument parser), the runner's --resume,
    and the config groups Hydra lists."""
    from hydra._internal.utils import get_args_parser

    parser = get_args_parser()
    rows = _flag_rows(parser)
    for flag, (metavar, meaning) in RUNNER_FLAGS.items():
        rows.append(f"| `{flag}` `{metavar}` |  | {_cell(meaning)} |")
    with tempfile.TemporaryDirectory() as folder:
        shown = subprocess.run(
            [sys.executable, "-m", "runner", "--hydra-help"],
            cwd=folder,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    groups = shown.split("== Configuration groups ==", 1)[-1].strip().splitlines()[1:]
    groups = [line for line in groups if line.strip()]
    return [
        "## `python -m runner`",
        "",
        "One run, or with `-m` a sweep: `python -m runner [flags] [group=option] [key=value]...`. "
        "The flags are Hydra's, and `--resume`, `--wait` and `--trust-folder` the runner's own; the "
        "[configuration reference](config.md) lists every key.",
        "",
        *rows,
        "",
        "Config groups of Hydra itself (choose with `hydra/GROUP=OPTION`), as "
        "`python -m runner --hydra-help` lists them:",
        "",
        "```text",
        *groups,
        "```",
        "",
    ]


if __name__ == "__main__":  # python docs/_hooks/reference.py NAME: print a generated page
    for name in sys.argv[1:] or ["config", "groups", "columns", "commands", "exit-codes", "files"]:
        print(page(name))
    with contextlib.suppress(Exception):
        print("\n".join(f"problem: {p}" for p in PROBLEMS), file=sys.stderr)
        print("\n".join(f"crashed: {k}: {e}" for k, e in CRASHED.items()), file=sys.stderr)
