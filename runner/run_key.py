"""``run_key``: a short hash of what determines a run's result, so that the same experiment is
recognised however it was typed (``model=dense2`` or its keys spelled out, overrides in any
order) and an edited data file is a new experiment.

The key covers the resolved config, as the flat dotted scalars the ledger records, minus the
keys in :data:`EXCLUDED` (they change what a run shows or where it writes, not what it computes),
plus a fingerprint of the data file for ``data=csv`` (its content's SHA-256; the path is then left
out, so a moved file keeps its key, and the version of the rules that read it) and the nncore
version. A change to what the key covers, or
to how it is computed, is a new ``KEY_VERSION``.
"""

import hashlib
import json
from pathlib import Path

import nncore

KEY_VERSION = 1
# How a CSV file becomes a dataset (the task data.task=auto infers, the text columns
# data.max_categories drops): a new version when that reading changes, so a CSV run made under
# the old rules is not taken for one made under the new. Generated data's keys do not carry it.
CSV_RULES = 2
EXCLUDED = (
    "trainer.progress",
    "trainer.plots",
    "trainer.log_every",
    "paths",
    "runner",
    "hydra",
)
_file_hashes = {}  # (path, size, mtime_ns) -> SHA-256 of the content: a sweep reads a file once


def run_key(scalars, data_fingerprint=None):
    """The key of a run whose config is ``scalars`` ({dotted key: value}) -> 16 hex digits."""
    kept = {key: value for key, value in scalars.items() if not is_excluded(key)}
    kept = {key: value for key, value in kept.items() if key not in _inert(kept)}
    payload = {
        "config": kept,
        "data": data_fingerprint,
        "nncore": nncore.__version__,
        "key_version": KEY_VERSION,
    }
    if data_fingerprint is not None:
        kept.pop("data.path", None)
        payload["csv_rules"] = CSV_RULES
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _inert(scalars):
    """Keys added after runs were first keyed that change nothing in this run at their
    defaults: left out, so a run made before they existed keeps its key (and is resumed)."""
    inert = set()
    stops_early = scalars.get("trainer.early_stopping.patience") is not None
    if not stops_early and scalars.get("trainer.keep", "auto") in ("auto", "last"):
        inert |= {key for key in scalars if key.startswith("trainer.early_stopping.")}
        inert.add("trainer.keep")
    if scalars.get("data.name") != "csv" and scalars.get("data.test_fraction") in (0, 0.0):
        inert.add("data.test_fraction")
    # auto: decided from the file's content, which the key has (its SHA-256)
    inert |= {key for key in ("data.sep", "data.max_categories") if scalars.get(key) == "auto"}
    return inert


def is_excluded(key):
    return any(key == prefix or key.startswith(prefix + ".") for prefix in EXCLUDED)


def data_fingerprint(scalars, base_dir):
    """The content hash of a ``data=csv`` run's file, or None (generated data: the config says it
    all; a file that cannot be read: the run fails anyway)."""
    if scalars.get("data.name") != "csv" or not isinstance(scalars.get("data.path"), str):
        return None
    path = Path(scalars["data.path"]).expanduser()
    path = path if path.is_absolute() else Path(base_dir) / path
    try:
        return "sha256:" + content_hash(path)
    except OSError:
        return None


def content_hash(path):
    """SHA-256 of the file at ``path`` (hex), computed once per process and file version."""
    stat = Path(path).stat()
    identity = (str(Path(path).resolve()), stat.st_size, stat.st_mtime_ns)
    if identity not in _file_hashes:
        _file_hashes[identity] = _sha256(path)
    return _file_hashes[identity]


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def key_of_saved_run(run_dir, base_dir):
    """The key of an earlier run, from the config it saved (``.hydra/config.yaml``), or None
    when there is none. A CSV data file is fingerprinted as it is now."""
    from omegaconf import OmegaConf

    from runner.records import flatten

    path = Path(run_dir) / ".hydra" / "config.yaml"
    try:
        config = OmegaConf.load(path)
    except Exception:  # noqa: BLE001 - missing, unreadable or not YAML: the run is unknown
        return None
    try:
        container = OmegaConf.to_container(config, resolve=True)
    except Exception:  # noqa: BLE001 - e.g. ${hydra:...} outside a job: as the run saw it
        container = OmegaConf.to_container(config, resolve=False)
    scalars = flatten(container)
    return run_key(scalars, data_fingerprint(scalars, base_dir))
