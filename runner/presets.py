"""A preset that declares a sweep (``hydra.mode: MULTIRUN`` in ``experiment/`` or
``hparams_search/``) runs it without ``-m``.

Hydra 1.3 reads the mode from the composed config; Hydra 1.4 takes it only from the primary
config or the command line and refuses a preset that changes it ("hydra.mode changed during
config composition"). So the command line says what the preset declares: ``hydra.mode=MULTIRUN``
is added before Hydra sees the arguments, on both majors alike.
"""

from pathlib import Path

PRESET_GROUPS = ("experiment", "hparams_search")


def with_declared_mode(args, conf_dir):
    """``args`` plus ``hydra.mode=MULTIRUN`` when a chosen preset declares a sweep and the
    command line chose no mode (``-m``, ``hydra.mode=...``) -> new list."""
    if any(a in ("-m", "--multirun") or a.startswith("hydra.mode=") for a in args):
        return list(args)
    for arg in args:
        group, _, name = arg.partition("=")
        if (
            group.lstrip("+") in PRESET_GROUPS
            and name
            and _declares_multirun(conf_dir, group, name)
        ):
            return [*args, "hydra.mode=MULTIRUN"]
    return list(args)


def _declares_multirun(conf_dir, group, name):
    from omegaconf import OmegaConf

    path = Path(conf_dir) / group.lstrip("+") / f"{name}.yaml"
    if not path.is_file():
        return False  # a preset of another search path, or a typo Hydra will name
    try:
        mode = OmegaConf.select(OmegaConf.load(path), "hydra.mode", default=None)
    except Exception:  # noqa: BLE001 - a preset that does not parse: Hydra says why
        return False
    return str(mode) == "MULTIRUN"
