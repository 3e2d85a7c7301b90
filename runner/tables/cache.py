"""A CSV file read once per sweep: the first job parses it, the others load its columns from
``<sweep>/.cache/`` as plain numpy arrays (``.npy`` files, no pickles; the float columns as one
row-major matrix, read in one go).

The cache is keyed by the file's content hash, so an edited file is parsed again. Hashing a
large file costs about as much as loading its cache, so the hash of each (path, size,
modification time) is remembered beside the cache, the way git's index trusts a file's stat
before reading it. Two jobs parsing at once both write the same arrays, each into a folder of
its own renamed into place, so a reader sees one whole cache or none.
"""

import contextlib
import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np

from runner.records import write_text_atomically
from runner.run_key import content_hash
from runner.tables.encoding import with_floats

CACHE_FOLDER = ".cache"
CACHE_VERSION = 3
HEADER = "header.json"


def read_table(path, cache_dir=None, sep=","):
    """The CSV at ``path``, fields separated by ``sep``, as a :class:`Table`; with
    ``cache_dir``, through the cache."""
    path = Path(path)
    if cache_dir is None:
        return _parse(path, sep)
    cache_dir = Path(cache_dir)
    how = "" if sep == "," else f"-sep{ord(sep)}"  # another separator, another table
    cached = cache_dir / f"csv-{_known_hash(path, cache_dir)}{how}-v{CACHE_VERSION}"
    if (cached / HEADER).is_file():
        try:
            return _load(cached, path.name)
        except (OSError, ValueError, KeyError):  # damaged: parse again and replace it
            shutil.rmtree(cached, ignore_errors=True)
    table = _parse(path, sep)
    with contextlib.suppress(OSError):  # a full disk costs the next job a parse, not this run
        _save(table, cached)
    return table


def _parse(path, sep=","):
    import pandas as pd

    from runner.tables.encoding import table_from_frame

    return table_from_frame(pd.read_csv(path, sep=sep), path.name)


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


def _save(table, folder):
    """The table as .npy files in ``folder``: its float matrix (row-major) in one file, every
    other column in one of its own."""
    kinds = {}
    tmp = folder.with_name(f".{folder.name}.{os.getpid()}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        if table.floats is not None:
            np.save(tmp / "floats.npy", table.floats)
        for i, (name, values) in enumerate(table.columns.items()):
            if name in table.float_names:
                kinds[name] = ["float", table.float_names.index(name)]
            elif values.dtype.kind == "O":
                missing = np.array([v is None for v in values], dtype=bool)
                texts = ["" if m else str(v) for v, m in zip(values, missing, strict=True)]
                np.save(tmp / f"c{i}.npy", np.array(texts))
                np.save(tmp / f"m{i}.npy", missing)
                kinds[name] = ["text", i]
            else:
                np.save(tmp / f"c{i}.npy", values)
                kinds[name] = ["array", i]
        header = {
            "columns": list(table.columns),
            "kinds": kinds,
            "floats": list(table.float_names),
            "complete": sorted(table.complete),
        }
        if table.float_moments is not None:
            np.save(tmp / "moments.npy", np.vstack(table.float_moments))
        (tmp / HEADER).write_text(json.dumps(header))
        os.rename(tmp, folder)  # a folder another job renamed first stays: same content
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _load(folder, name):
    header = json.loads((folder / HEADER).read_text())
    floats = None
    if header["floats"]:
        floats = np.load(folder / "floats.npy", mmap_mode="r", allow_pickle=False)
    others = {}
    for column in header["columns"]:
        kind, at = header["kinds"][column]
        if kind == "text":
            values = np.load(folder / f"c{at}.npy", allow_pickle=False).astype(object)
            values[np.load(folder / f"m{at}.npy", allow_pickle=False)] = None
            others[column] = values
        elif kind == "array":
            others[column] = np.load(folder / f"c{at}.npy", allow_pickle=False)
    table = with_floats(others, floats, header["floats"], name, complete=header["complete"])
    table.columns = {column: table.columns[column] for column in header["columns"]}
    if floats is not None:
        mean, m2 = np.load(folder / "moments.npy", allow_pickle=False)
        table.float_moments = (mean, m2)
    return table
