"""A CSV file read once per sweep: the first job parses it, the others load its columns from
``<sweep>/.cache/`` as plain numpy arrays (an ``.npz`` without pickles).

The cache is keyed by the file's content hash, so an edited file is parsed again. Hashing a
large file costs about as much as loading its cache, so the hash of each (path, size,
modification time) is remembered beside the cache, the way git's index trusts a file's stat
before reading it. Two jobs parsing at once both write the same arrays; each write is a
rename, so a reader sees one whole file or none.
"""

import contextlib
import hashlib
import json
import os
from pathlib import Path

import numpy as np

from runner.records import write_text_atomically
from runner.run_key import content_hash
from runner.tabular import Table

CACHE_FOLDER = ".cache"
CACHE_VERSION = 1


def read_table(path, cache_dir=None):
    """The CSV at ``path`` as a :class:`Table`; with ``cache_dir``, through the cache."""
    path = Path(path)
    if cache_dir is None:
        return _parse(path)
    cache_dir = Path(cache_dir)
    cached = cache_dir / f"csv-{_known_hash(path, cache_dir)}-v{CACHE_VERSION}.npz"
    if cached.is_file():
        try:
            return _load(cached, path.name)
        except (OSError, ValueError, KeyError):  # damaged: parse again and replace it
            pass
    table = _parse(path)
    with contextlib.suppress(OSError):  # a full disk costs the next job a parse, not this run
        _save(table, cached)
    return table


def _parse(path):
    import pandas as pd

    from runner.tabular import table_from_frame

    return table_from_frame(pd.read_csv(path), path.name)


def _known_hash(path, cache_dir):
    stat = path.stat()
    identity = f"{path.resolve()}\0{stat.st_size}\0{stat.st_mtime_ns}"
    note = cache_dir / f"stat-{hashlib.sha1(identity.encode()).hexdigest()[:20]}.txt"
    try:
        return note.read_text().strip()
    except OSError:
        pass
    digest = content_hash(path)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        write_text_atomically(note, digest)
    except OSError:
        pass
    return digest


def _save(table, path):
    arrays, kinds = {}, {}
    for i, (name, values) in enumerate(table.columns.items()):
        if values.dtype.kind == "O":
            missing = np.array([v is None for v in values], dtype=bool)
            arrays[f"c{i}"] = np.array(
                ["" if m else str(v) for v, m in zip(values, missing, strict=True)]
            )
            arrays[f"m{i}"] = missing
            kinds[name] = "text"
        else:
            arrays[f"c{i}"] = values
            kinds[name] = "array"
    header = json.dumps({"columns": list(table.columns), "kinds": kinds})
    arrays["header"] = np.array(header)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as file:
            np.savez(file, **arrays)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _load(path, name):
    with np.load(path, allow_pickle=False) as stored:
        header = json.loads(str(stored["header"]))
        columns = {}
        for i, column in enumerate(header["columns"]):
            values = stored[f"c{i}"]
            if header["kinds"][column] == "text":
                values = values.astype(object)
                values[stored[f"m{i}"]] = None
            columns[column] = values
    return Table(columns, name)
