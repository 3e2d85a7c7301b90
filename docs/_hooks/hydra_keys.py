"""Each launcher's and sweeper's keys as Hydra composes them, with their type and the comment
that declares them: ``python docs/_hooks/hydra_keys.py CONF_DIR hydra/launcher=pool ...``
prints YAML ``{choice: {key: {default, type, meaning}}}``.

Run in its own process by the reference hook (docs/_hooks/reference.py), since composing with
the runner's plugins visible changes Hydra's global state. A key's meaning is, in this order:
the comment on (or just above) its field in the structured config that declares it, walking
the class's bases (hydra-submitit-launcher's and hydra-joblib-launcher's configs are commented
too); else the argument's description in the docstring of the class the config builds (an
Optuna sampler's ``seed``); else nothing, and the hook says what is missing.
"""

import dataclasses
import inspect
import io
import re
import sys
import textwrap
import tokenize
import typing

import yaml
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, OmegaConf


def main(conf_dir, choices):
    from runner.plugins import make_visible

    make_visible()
    shown = {}
    with initialize_config_dir(config_dir=conf_dir, version_base="1.3"):
        for choice in choices:
            group = choice.split("=")[0].removeprefix("hydra/")  # launcher, sweeper/sampler
            within = ["hydra/sweeper=optuna"] if group.startswith("sweeper/") else []
            cfg = compose("config", overrides=[*within, choice], return_hydra_config=True)
            shown[choice] = describe(OmegaConf.select(cfg.hydra, group.replace("/", ".")))
    print(yaml.safe_dump(shown, sort_keys=False, width=10**6))


def describe(node, prefix="", inherited=None):
    """{dotted key: {default, type, meaning}} of a composed node and the nodes inside it."""
    cls = OmegaConf.get_type(node)
    own = field_comments(cls) if dataclasses.is_dataclass(cls) else {}
    types = _field_types(cls)
    target = node.get("_target_") if "_target_" in node else None
    out = {}
    for key in node:
        if str(key).startswith("_"):
            continue
        child = node._get_node(key)
        meaning = own.get(key) or _argument_of(target, key)
        if isinstance(child, DictConfig) and len(child):
            out.update(describe(child, f"{prefix}{key}.", meaning or inherited))
            continue
        out[f"{prefix}{key}"] = {
            "default": OmegaConf.to_container(node, resolve=False)[key],
            "type": types.get(key, ""),
            "meaning": meaning or (f"(in {prefix.rstrip('.')}) {inherited}" if inherited else None),
        }
    return out


def field_comments(cls):
    """{field: its comment} over the class and its bases, a subclass's comment winning: the
    comment on the field's line, else the comment lines right above it (their last paragraph)."""
    found = {}
    for base in reversed(cls.__mro__):
        if dataclasses.is_dataclass(base) and base.__module__ != "builtins":
            found.update(_comments_in(inspect.getsource(base)))
    return found


_FIELD = re.compile(r"^    (\w+)\s*:")


def _comments_in(source):
    source = textwrap.dedent(source)
    inline, lines = {}, source.splitlines()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            row = token.start[0] - 1
            if lines[row][: token.start[1]].strip():
                inline[row] = _text(token.string)
    found, above = {}, []
    for row, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("#"):
            text = _text(stripped)
            above = [] if not text else [*above, text]
            continue
        match = _FIELD.match(line)
        if match:
            text = inline.get(row) or " ".join(above)
            if text:
                found[match.group(1)] = text
        above = []
    return found


def _text(comment):
    return comment.lstrip("#").strip()


def _field_types(cls):
    if not dataclasses.is_dataclass(cls):
        return {}
    hints = typing.get_type_hints(cls)
    return {f.name: _type_name(hints.get(f.name)) for f in dataclasses.fields(cls)}


def _type_name(hint):
    if hint is None or hint is typing.Any:
        return ""
    args = typing.get_args(hint)
    if typing.Any in args:
        return ""
    if args:
        names = [_type_name(a) if a is not type(None) else "null" for a in args]
        origin = getattr(typing.get_origin(hint), "__name__", "")
        if origin in ("list", "dict", "List", "Dict"):
            return origin.lower()
        return " | ".join(n for n in names if n)
    return "null" if hint is type(None) else getattr(hint, "__name__", str(hint))


def _argument_of(target, key):
    """The description of argument ``key`` in the Args section of ``target``'s docstring."""
    if not target or not isinstance(target, str):
        return None
    module, _, name = target.rpartition(".")
    try:
        cls = getattr(__import__(module, fromlist=[name]), name)
    except (ImportError, AttributeError):
        return None
    lines = (inspect.getdoc(cls) or "").splitlines()
    for at, line in enumerate(lines):
        match = re.match(rf"^(\s*){re.escape(key)}:(.*)$", line)
        if match:
            indent, text = len(match.group(1)), [match.group(2)]
            for more in lines[at + 1 :]:
                if more.strip() and len(more) - len(more.lstrip()) <= indent:
                    break
                text.append(more)
            break
    else:
        return None
    plain = " ".join(" ".join(text).split())
    plain = re.sub(r"`([^`<]*?)\s*<[^>]*>`__", r"\1", plain)  # rst links: their words
    plain = re.sub(r":\w+:`~?([^`]+)`", r"`\1`", plain)  # :obj:`True` -> `True`
    sentence = re.split(r"(?<=\.)\s", plain, maxsplit=1)[0]
    return f"{sentence} (Optuna's `{name}`)" if target.startswith("optuna.") else sentence


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
