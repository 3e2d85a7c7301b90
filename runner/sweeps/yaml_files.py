"""``OmegaConf.to_yaml``, byte for byte, at a fifth of the cost where that is safe.

Each job's ``.hydra/`` files are three YAML dumps, and PyYAML's pure-Python emitter makes them
cost more than a forward-only job trains. libyaml's emitter (``yaml.CDumper``), given
OmegaConf's own representer for strings, writes the same bytes for every config made of
printable ASCII strings, numbers, booleans and nulls (``tests/test_yaml_files.py`` checks
this over tens of thousands of random configs); for anything else (control characters,
non-ASCII text, where the two emitters do differ) the dump goes through OmegaConf unchanged,
and so does a config with a ``???`` that is not a missing value (OmegaConf 2.4 writes such
a string literal escaped). OmegaConf's dumper is reached through
``runner.sweeps.compat``; without it every dump is ``OmegaConf.to_yaml``'s.
"""

import functools
import re

import yaml
from omegaconf import OmegaConf

from runner.sweeps import compat

_PLAIN = re.compile(r"[\x20-\x7e]*")


def _omegaconf_dumper():
    try:
        return compat.omegaconf_dumper()
    except compat.Moved as error:
        compat.moved(error, "every .hydra/ file written by OmegaConf.to_yaml: slower")
        return None


def _c_dumper():
    if not getattr(yaml, "__with_libyaml__", False):
        return None
    python_dumper = _omegaconf_dumper()
    if python_dumper is None:
        return None

    class OmegaConfCDumper(yaml.CDumper):
        pass

    OmegaConfCDumper.add_representer(str, python_dumper.str_representer)
    return OmegaConfCDumper


_C_DUMPER = _c_dumper()


def to_yaml(config):
    """What ``OmegaConf.to_yaml(config)`` returns."""
    if _C_DUMPER is None:
        return OmegaConf.to_yaml(config)
    container = OmegaConf.to_container(config, resolve=False, enum_to_str=True)
    if not isinstance(container, dict) or not container or not _missing_alike(config, container):
        return OmegaConf.to_yaml(config)
    return "".join(_entries(container, ()))


def _missing_alike(node, value):
    """Whether every ``???`` in the container is a missing value of the config: OmegaConf 2.4
    writes a ``???`` string literal (escaped in its YAML) as ``\\???``, a missing value as
    ``???``, and the container shows both as ``???``. Only the branches holding one are read."""
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for key, item in items:
        if item == "???":
            if isinstance(value, list) or not OmegaConf.is_missing(node, key):
                return False
        elif (
            isinstance(item, (dict, list))
            and _holds_marker(item)
            and not _missing_alike(node[key], item)
        ):
            return False
    return True


def _holds_marker(value):
    if isinstance(value, dict):
        value = value.values()
    return any(v == "???" or (isinstance(v, (dict, list)) and _holds_marker(v)) for v in value)


def _entries(mapping, path):
    """The block-style lines of ``mapping``'s entries, nested under the keys in ``path``.

    In block style each entry of a mapping starts on a line of its own at the mapping's
    indent, so a document is the concatenation of its entries dumped one at a time under the
    same parent keys. Runs of plain entries go through libyaml together; a mapping that holds
    something else is split into its entries; any other value (hydra's help texts, the only
    multi-line strings in a job's files) goes through OmegaConf's dumper, remembered by value,
    since every job of a sweep has the same ones.
    """
    plain = {}
    for key, value in mapping.items():
        if _is_plain(key) and _is_plain(value):
            plain[key] = value
            continue
        if plain:
            yield _under(path, plain, _C_DUMPER)
            plain = {}
        if isinstance(value, dict) and value and _is_short_key(key):
            yield _header(path, key)
            yield from _entries(value, (*path, key))
        else:
            yield _entry_of_other(path, key, value)
    if plain:
        yield _under(path, plain, _C_DUMPER)


def _is_short_key(key):
    """A key libyaml and PyYAML both write as ``key:`` on one line (long keys become ``? key``)."""
    return isinstance(key, str) and len(key) < 100 and _PLAIN.fullmatch(key) is not None


def _under(path, mapping, dumper):
    """``mapping``'s lines as they appear nested under ``path``: the parents' lines cut off."""
    for key in reversed(path):
        mapping = {key: mapping}
    text = _dump(mapping, dumper)
    for _ in path:
        text = text[text.index("\n") + 1 :]
    return text


@functools.lru_cache(maxsize=256)
def _header(path, key):
    return _under(path, {key: {"k": 0}}, _C_DUMPER).partition("\n")[0] + "\n"


def _entry_of_other(path, key, value):
    if isinstance(key, str) and isinstance(value, str) and all(map(_is_short_key, path)):
        return _other_string_entry(path, key, value)
    return _under(path, {key: value}, compat.omegaconf_dumper())


@functools.lru_cache(maxsize=64)
def _other_string_entry(path, key, value):
    return _under(path, {key: value}, compat.omegaconf_dumper())


def _dump(container, dumper):
    return yaml.dump(
        container, default_flow_style=False, allow_unicode=True, sort_keys=False, Dumper=dumper
    )


def _is_plain(value):
    if isinstance(value, str):
        return _PLAIN.fullmatch(value) is not None
    if isinstance(value, dict):
        return all(_is_plain(k) and _is_plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_is_plain(v) for v in value)
    return value is None or isinstance(value, (bool, int, float))
