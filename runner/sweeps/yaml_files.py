"""``OmegaConf.to_yaml``, byte for byte, at a fifth of the cost where that is safe.

Each job's ``.hydra/`` files are three YAML dumps, and PyYAML's pure-Python emitter makes them
cost more than a forward-only job trains. libyaml's emitter (``yaml.CDumper``), given
OmegaConf's own representer for strings, writes the same bytes for every config made of
printable ASCII strings, numbers, booleans and nulls (``tests/test_yaml_files.py`` checks
this over tens of thousands of random configs); for anything else (control characters,
non-ASCII text, where the two emitters do differ) the dump goes through OmegaConf unchanged.
"""

import re

import yaml
from omegaconf import OmegaConf
from omegaconf._utils import get_omega_conf_dumper

_PLAIN = re.compile(r"[\x20-\x7e]*")


def _c_dumper():
    if not getattr(yaml, "__with_libyaml__", False):
        return None
    python_dumper = get_omega_conf_dumper()

    class OmegaConfCDumper(yaml.CDumper):
        pass

    OmegaConfCDumper.add_representer(str, python_dumper.str_representer)
    return OmegaConfCDumper


_C_DUMPER = _c_dumper()


def to_yaml(config):
    """What ``OmegaConf.to_yaml(config)`` returns."""
    container = OmegaConf.to_container(config, resolve=False, enum_to_str=True)
    plain = _C_DUMPER is not None and _is_plain(container)
    return yaml.dump(
        container,
        default_flow_style=False,
        allow_unicode=True,
        sort_keys=False,
        Dumper=_C_DUMPER if plain else get_omega_conf_dumper(),
    )


def _is_plain(value):
    if isinstance(value, str):
        return _PLAIN.fullmatch(value) is not None
    if isinstance(value, dict):
        return all(_is_plain(k) and _is_plain(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_is_plain(v) for v in value)
    return value is None or isinstance(value, (bool, int, float))
