"""The fast YAML dump of a job's .hydra files writes exactly what OmegaConf.to_yaml writes."""

import random
import string

import pytest
from omegaconf import OmegaConf

from runner.sweeps.yaml_files import _C_DUMPER, to_yaml

ALPHABETS = (
    "".join(c for c in string.printable if c not in "\t\r\n\x0b\x0c"),
    string.ascii_letters + " :#-'\"{}[],&*!|>%@`$.",
    string.digits + ".eE+-_ ",
    string.printable,  # control characters: the dump falls back to OmegaConf's own
    "αβγ é ü 中文 \u00a0\u2028\x85\ufeff",  # non-ASCII: the same
)
SPECIAL = ["", "true", "no", "null", "~", "1e3", "0x1f", "1_000", ".inf", "${a.b}", "- x", "a: b"]


def _text(rng):
    if rng.random() < 0.2:
        return rng.choice(SPECIAL)
    alphabet = rng.choice(ALPHABETS)
    text = "".join(
        rng.choice(alphabet) for _ in range(rng.choice([0, 1, 3, 10, 40, 79, 80, 81, 200]))
    )
    return text.replace("${", "$ {")  # an interpolation must parse; a few proper ones are SPECIAL


def _value(rng, depth=0):
    kind = rng.randrange(9 if depth < 3 else 6)
    if kind == 0:
        return _text(rng)
    if kind == 1:
        return rng.randint(-(10**12), 10**12)
    if kind == 2:
        return rng.choice([0.0, -1.5, 1e-300, 3.14159, float("inf"), float("nan"), 1e22])
    if kind == 3:
        return rng.choice([True, False, None])
    if kind in (4, 5):
        return _text(rng)
    if kind in (6, 7):
        return {_text(rng) or "k": _value(rng, depth + 1) for _ in range(rng.randrange(4))}
    return [_value(rng, depth + 1) for _ in range(rng.randrange(4))]


@pytest.mark.skipif(_C_DUMPER is None, reason="PyYAML was built without libyaml")
def test_the_fast_dump_equals_omegaconfs_on_random_configs():
    rng = random.Random(0)
    for _ in range(4000):
        content = {f"key{i}": _value(rng) for i in range(rng.randrange(1, 6))}
        config = OmegaConf.create(content, flags={"allow_objects": False})
        assert to_yaml(config) == OmegaConf.to_yaml(config), content


def test_the_fast_dump_equals_omegaconfs_on_the_runners_config():
    from conftest import compose

    config = compose("model=dense3", "optimizer=sgd", "+extra='quoted: yes'")
    assert to_yaml(config) == OmegaConf.to_yaml(config)
