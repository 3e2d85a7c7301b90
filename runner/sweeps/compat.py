"""Every use of another library's private API, in one place, each with a floor under it.

The sweep's speed comes from reaching past Hydra's and OmegaConf's public API in a few places
(the composition cache, the pool's copy of ``run_job``, the ``.hydra/`` YAML). Each reach is
one function here, whose docstring names the library and the versions it was written
against; when the internal is not there, or not of the shape expected, the function raises
:class:`Moved` (or answers None) and its caller takes the public path, which costs speed,
never a job. :func:`moved` says so once per process, naming the dependency and its version.
``tests/test_compat.py`` exercises every reach on the installed versions and every fallback
with the internal taken away.

Imports stay inside the functions: the plugin modules import this one at Hydra's start-up.
"""

import contextlib
import io
import re
import sys
from importlib import metadata

# The Hydra series whose composition and run_job the cache and the pool's run_job copy were
# checked against, byte for byte (tests/test_compose_cache.py). Another series: Hydra's own.
HYDRA_SERIES = ("1.3", "1.4")

_said = set()


class Moved(Exception):
    """An internal of a dependency is not what the reach was written against."""

    def __init__(self, distribution, what, cause=None):
        reason = f" ({type(cause).__name__}: {cause})" if cause is not None else ""
        super().__init__(f"{distribution} {version(distribution)}: {what}{reason}")
        self.distribution, self.what = distribution, what


def version(distribution):
    """The installed version of ``distribution`` ("hydra-core"), or "(not installed)"."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "(not installed)"


def moved(error, costs):
    """Say, once per process and reach, that an internal moved and what the public path costs:
    one line on stderr naming the dependency and its version."""
    if error.what in _said:
        return
    _said.add(error.what)
    print(
        f"warning: {error} is not what nnrunner was written against; using the public path "
        f"instead ({costs})",
        file=sys.stderr,
        flush=True,
    )


def hydra_series():
    """ "1.3" or "1.4" for a Hydra of a series the fast paths were checked against, else None."""
    import hydra

    series = ".".join(hydra.__version__.split(".")[:2])
    return series if series in HYDRA_SERIES else None


def untested_hydra():
    """Moved for a Hydra outside :data:`HYDRA_SERIES`, or None."""
    if hydra_series() is not None:
        return None
    return Moved("hydra-core", f"a series other than {' and '.join(HYDRA_SERIES)}")


# -- Hydra: composition (runner.sweeps.compose) -------------------------------------------


def apply_overrides(overrides, config):
    """Apply parsed value overrides to ``config`` as Hydra's composition does.

    hydra-core 1.3.8 and 1.4.0rc3: ``ConfigLoaderImpl._apply_overrides_to_config(overrides,
    cfg)``, a static method. Fallback (the caller's): Hydra's full composition of the job.
    """
    try:
        from hydra._internal.config_loader_impl import ConfigLoaderImpl

        apply = ConfigLoaderImpl._apply_overrides_to_config
    except (ImportError, AttributeError) as error:
        raise Moved("hydra-core", "ConfigLoaderImpl._apply_overrides_to_config", error) from None
    apply(overrides, config)


def set_override_dirname(config, app_overrides):
    """Set ``hydra.job.override_dirname`` for the job's application overrides, as Hydra's
    composition does after applying them.

    hydra-core 1.3.8: composition sets it with ``hydra._internal.config_loader_impl.
    get_overrides_dirname``. hydra-core 1.4.0rc3: it is the interpolation
    ``${hydra_override_dirname:}``, worked out from ``hydra.overrides.task`` when read, so
    nothing is set. Fallback (the caller's): Hydra's full composition of the job.
    """
    from omegaconf import OmegaConf, open_dict

    job = config.hydra.job
    if OmegaConf.is_interpolation(job, "override_dirname"):
        return
    try:
        from hydra._internal.config_loader_impl import get_overrides_dirname
    except ImportError as error:
        raise Moved("hydra-core", "config_loader_impl.get_overrides_dirname", error) from None
    options = job.config.override_dirname
    with open_dict(config.hydra):
        job.override_dirname = get_overrides_dirname(
            overrides=app_overrides,
            kv_sep=options.kv_sep,
            item_sep=options.item_sep,
            exclude_keys=options.exclude_keys,
        )


def fast_composition(master_config):
    """None when the composition cache's reaches are there for this Hydra, else the Moved that
    says why not (the cache then composes every job with Hydra: slower, same configs)."""
    problem = untested_hydra()
    if problem is not None:
        return problem
    try:
        from hydra._internal.config_loader_impl import ConfigLoaderImpl

        ConfigLoaderImpl._apply_overrides_to_config  # noqa: B018 - that it is there
    except (ImportError, AttributeError) as error:
        return Moved("hydra-core", "ConfigLoaderImpl._apply_overrides_to_config", error)
    from omegaconf import OmegaConf

    if not OmegaConf.is_interpolation(master_config.hydra.job, "override_dirname"):
        try:
            from hydra._internal.config_loader_impl import get_overrides_dirname  # noqa: F401
        except ImportError as error:
            return Moved("hydra-core", "config_loader_impl.get_overrides_dirname", error)
    return None


# -- Hydra: run or multirun (runner.app) ---------------------------------------------------

_MODE_OVERRIDE = re.compile(r"hydra\.mode=(RUN|MULTIRUN)")


def quick_mode_check():
    """Answer Hydra 1.3's "run or multirun?" as Hydra 1.4 does, without composing the config.

    hydra-core 1.3.8: ``Hydra.get_mode(config_name, overrides)`` composes the whole config (a
    tenth of a second, before the run's or sweep's own composition) to read ``hydra.mode``;
    1.4.0rc3 reads it from the command line or the primary config alone. The runner's presets
    that declare a sweep put ``hydra.mode=MULTIRUN`` on the command line (``runner.presets``),
    so the command line and the primary config decide on both majors. Where the answer is not
    plain (a ``hydra.mode`` or ``hydra`` override of another form, a mode in the primary
    config, a primary config that does not load) Hydra's own check runs. Fallback: Hydra's
    check every time (a tenth of a second slower). Nothing is patched on another series.
    """
    if hydra_series() != "1.3":
        return
    try:
        from hydra._internal.hydra import Hydra

        original = Hydra.get_mode
    except (ImportError, AttributeError) as error:
        moved(Moved("hydra-core", "Hydra.get_mode", error), "a composition more at start")
        return
    if getattr(original, "nnrunner_quick", False):
        return

    def get_mode(self, config_name, overrides):
        try:
            return _plain_mode(self.config_loader, config_name, overrides)
        except _NotPlain:
            return original(self, config_name, overrides)

    get_mode.nnrunner_quick = True
    Hydra.get_mode = get_mode


class _NotPlain(Exception):
    """The mode needs Hydra's composition to be sure of."""


def _plain_mode(loader, config_name, overrides):
    """``RunMode`` given on the command line, or None when neither it nor the primary config
    sets one; raise _NotPlain where that is not certain."""
    from hydra.types import RunMode

    mode = None
    for override in overrides:
        key = override.split("=", 1)[0].lstrip("+~")
        if key == "hydra" or key.startswith(("hydra.mode", "hydra@")):
            found = _MODE_OVERRIDE.fullmatch(override)
            if found is None:
                raise _NotPlain
            mode = RunMode[found.group(1)]
    if mode is not None:
        return mode
    try:
        loaded = loader.repository.load_config(config_name) if config_name else None
    except Exception as error:  # noqa: BLE001 - Hydra's check reports it in its own words
        raise _NotPlain from error
    if loaded is None or _declares_mode(loaded.config):
        raise _NotPlain
    return None


def _declares_mode(config):
    from omegaconf import OmegaConf

    hydra_node = config.get("hydra") if OmegaConf.is_dict(config) else None
    return hydra_node is not None and (not OmegaConf.is_dict(hydra_node) or "mode" in hydra_node)


# -- Hydra: the basic sweeper the grid sweeper extends (hydra_plugins/nnrunner/grid_sweeper) --


def basic_sweeper():
    """Hydra's basic sweeper class (nnrunner:basic_sweeper).

    hydra-core 1.3.8 and 1.4.0rc3: ``hydra._internal.core_plugins.basic_sweeper.BasicSweeper``.
    Fallback: the sweeper Hydra's public plugin registry lists under that name.
    """
    try:
        from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    except ImportError as error:
        moved(Moved("hydra-core", "hydra._internal.core_plugins.basic_sweeper", error), "no cost")
        from hydra.core.plugins import Plugins
        from hydra.plugins.sweeper import Sweeper

        found = [c for c in Plugins.instance().discover(Sweeper) if c.__name__ == "BasicSweeper"]
        if not found:
            raise
        return found[0]
    return BasicSweeper


# -- Hydra: running a job (runner.sweeps.hydra_job) ----------------------------------------


def job_callbacks(config, whitelist=None):
    """The job's callbacks (``hydra.callbacks``, instantiated), with ``on_job_start`` and
    ``on_job_end`` as Hydra calls them.

    hydra-core 1.3.8 and 1.4.0rc3: ``hydra._internal.callbacks.Callbacks(config)``, built
    inside the sweep's execution whitelist on 1.4. Fallback: :class:`PublicCallbacks`, the
    same hooks through ``hydra.utils.instantiate`` and ``hydra.experimental.callback``'s
    contract.
    """
    with execution_whitelist(whitelist):
        try:
            from hydra._internal.callbacks import Callbacks

            callbacks = Callbacks(config)
            callbacks.on_job_start, callbacks.on_job_end  # noqa: B018 - that they are there
        except (ImportError, AttributeError, TypeError) as error:
            moved(Moved("hydra-core", "hydra._internal.callbacks.Callbacks", error), "no cost")
            return PublicCallbacks(config)
    return callbacks


class PublicCallbacks:
    """Hydra's job callbacks through public API: each of ``hydra.callbacks`` instantiated,
    ``on_job_start`` in order, ``on_job_end`` in reverse, a callback that raises said in a
    warning and the job going on (as Hydra's own ``Callbacks`` does)."""

    def __init__(self, config):
        from hydra.utils import instantiate
        from omegaconf import OmegaConf

        found = OmegaConf.select(config, "hydra.callbacks")
        self.callbacks = [instantiate(c) for c in found.values()] if found else []

    def _notify(self, name, callbacks, **kwargs):
        import warnings

        for callback in callbacks:
            try:
                getattr(callback, name)(**kwargs)
            except Exception as error:  # noqa: BLE001 - Hydra's rule: warn, go on
                warnings.warn(
                    f"Callback {type(callback).__name__}.{name} raised "
                    f"{type(error).__name__}: {error}",
                    stacklevel=2,
                )

    def on_job_start(self, config, **kwargs):
        self._notify("on_job_start", self.callbacks, config=config, **kwargs)

    def on_job_end(self, config, job_return, **kwargs):
        self._notify(
            "on_job_end", reversed(self.callbacks), config=config, job_return=job_return, **kwargs
        )


def execution_whitelist(whitelist):
    """A context with Hydra's execution whitelist ``whitelist`` (what the sweep's
    ``HydraContext.execution_whitelist`` holds) in force; a no-op on a Hydra without one.

    hydra-core 1.4.0rc3: ``hydra.utils.execution_whitelist(whitelist, reset=True)``, public;
    the same call Hydra's ``run_job`` makes around a job."""
    try:
        from hydra.utils import execution_whitelist as whitelisted
    except ImportError:
        return contextlib.nullcontext()
    return whitelisted(whitelist, reset=True)


def whitelist_of(hydra_context):
    """The execution whitelist a launcher was handed (1.4's ``HydraContext``), or None."""
    return getattr(hydra_context, "execution_whitelist", None)


def failure_of(job_return):
    """The exception a FAILED ``JobReturn`` holds, without raising it.

    hydra-core 1.3.8 and 1.4.0rc3: the dataclass field ``JobReturn._return_value``. Fallback:
    the public ``return_value``, which raises it (and writes a line to stderr, kept here).
    """
    try:
        return job_return.__dict__["_return_value"]
    except KeyError:
        moved(Moved("hydra-core", "JobReturn._return_value"), "no cost")
    with contextlib.redirect_stderr(io.StringIO()):
        try:
            return job_return.return_value
        except BaseException as error:  # noqa: BLE001 - the job's, returned
            return error


def hydra_run_job(task_function, config, callbacks, whitelist=None):
    """Hydra's own ``hydra.core.utils.run_job`` for one sweep job (the public path under the
    pool's copy of it): the job folder from ``hydra.sweep.dir``/``subdir``, logging left as
    the worker has it."""
    import dataclasses

    from hydra.core.utils import run_job
    from hydra.types import HydraContext

    fields = {f.name for f in dataclasses.fields(HydraContext)}
    extra = {"execution_whitelist": whitelist} if "execution_whitelist" in fields else {}
    context = HydraContext(config_loader=None, callbacks=callbacks, **extra)
    return run_job(
        task_function=task_function,
        config=config,
        job_dir_key="hydra.sweep.dir",
        job_subdir_key="hydra.sweep.subdir",
        hydra_context=context,
        configure_logging=False,
    )


# -- OmegaConf: the job's two halves, without copying the hydra node (runner.sweeps.hydra_job)


def hydra_part(config):
    """What ``HydraConfig.set_config(config)`` keeps: a config of the hydra node alone whose
    parent is the whole config (so its interpolations reach the user's keys), sharing the
    node instead of copying it.

    omegaconf 2.3.1 and 2.4.1rc1: ``DictConfig._get_node``, ``Node._set_parent`` and the
    ``no_deepcopy_set_nodes`` flag, as Hydra's ``set_config`` itself uses ``_set_parent``.
    Fallback: ``HydraConfig.set_config`` (public; a deep copy of the node).
    """
    from omegaconf import DictConfig, flag_override

    try:
        node = config._get_node("hydra")
        if not callable(getattr(node, "_set_parent", None)):  # checked before the node moves
            raise AttributeError("Node._set_parent")
        hydra_cfg = DictConfig(content={})
        with flag_override(hydra_cfg, "no_deepcopy_set_nodes", True):
            hydra_cfg["hydra"] = node
        if hydra_cfg._get_node("hydra") is not node:
            raise TypeError("the hydra node was copied")
        hydra_cfg.hydra._set_parent(config)
    except (AttributeError, TypeError) as error:
        moved(Moved("omegaconf", "DictConfig._get_node / Node._set_parent", error), "a copy a job")
        return _hydra_part_public(config)
    return hydra_cfg


def _hydra_part_public(config):
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    hydra_config = HydraConfig.instance()
    previous, readonly = hydra_config.cfg, OmegaConf.is_readonly(config.hydra)
    try:
        hydra_config.set_config(config)  # which makes the node read-only: undone below
        return hydra_config.cfg
    finally:
        hydra_config.cfg = previous
        if not readonly:
            OmegaConf.set_readonly(config.hydra, None)


def task_part(config):
    """What Hydra gives the task: a deep copy of the config without its hydra node (same
    flags, same resolver cache), made by pickling the config with the node left out.

    omegaconf 2.3.1 and 2.4.1rc1: a DictConfig keeps its children in ``__dict__["_content"]``
    (a dict of nodes). Fallback: Hydra's way, ``copy.deepcopy`` and ``del cfg["hydra"]``.
    """
    import pickle

    content = _content_of(config)
    if not isinstance(content, dict) or "hydra" not in content:
        moved(Moved("omegaconf", 'DictConfig.__dict__["_content"]'), "a copy of the hydra node")
        return _task_part_public(config)
    config.__dict__["_content"] = {key: node for key, node in content.items() if key != "hydra"}
    try:
        frozen = pickle.dumps(config, protocol=pickle.HIGHEST_PROTOCOL)
    finally:
        config.__dict__["_content"] = content
    return pickle.loads(frozen)


def _content_of(config):
    return config.__dict__.get("_content")


def _task_part_public(config):
    import copy

    from omegaconf import open_dict, read_write

    task_cfg = copy.deepcopy(config)
    with read_write(task_cfg), open_dict(task_cfg):
        del task_cfg["hydra"]
    return task_cfg


# -- OmegaConf: YAML (runner.sweeps.yaml_files) --------------------------------------------


def omegaconf_dumper():
    """OmegaConf's YAML dumper class, the one ``OmegaConf.to_yaml`` dumps with, with its
    ``str_representer`` (the quoting of strings that read as numbers or booleans).

    omegaconf 2.3.1 and 2.4.1rc1: ``omegaconf._utils.get_omega_conf_dumper()``. Fallback
    (the caller's): ``OmegaConf.to_yaml`` for every file, at PyYAML's pure-Python speed.
    """
    try:
        from omegaconf._utils import get_omega_conf_dumper

        dumper = get_omega_conf_dumper()
        dumper.str_representer  # noqa: B018 - that it is there
    except (ImportError, AttributeError) as error:
        raise Moved("omegaconf", "_utils.get_omega_conf_dumper().str_representer", error) from None
    return dumper


# -- hydra-submitit-launcher: an executor set up as the plugin sets up its own (packing) ----


def submitit_executor(params, cluster, sweep_config):
    """The submitit executor hydra-submitit-launcher's ``launch`` would build from the
    launcher's ``params`` (its config, resolved) for ``cluster`` ("local" or "slurm"); the
    sweep folder made (and given ``hydra.sweep.mode`` when set), as that ``launch`` does.

    hydra-submitit-launcher 1.2.0 and its main branch (1.4.0.dev9): ``submitit_folder`` is
    the executor's folder; ``max_num_timeout`` and (main) ``python`` are the executor's own,
    prefixed by the cluster; keys of ``config.BaseQueueConf`` go as they are, the others
    prefixed. Fallback (the caller's, on Moved): the plugin's own ``launch``, a task per job.
    """
    import os
    from pathlib import Path

    import submitit
    from omegaconf import OmegaConf

    try:
        from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf

        base = set(OmegaConf.structured(BaseQueueConf).keys())
    except (ImportError, AttributeError) as error:
        raise Moved("hydra-submitit-launcher", "config.BaseQueueConf", error) from None
    params = dict(params)
    own = ("max_num_timeout", "python")
    init = {"folder": params.pop("submitit_folder")}
    init.update({f"{cluster}_{key}": params.pop(key) for key in own if key in params})
    try:
        executor = submitit.AutoExecutor(cluster=cluster, **init)
        executor.update_parameters(
            **{k if k in base else f"{cluster}_{k}": v for k, v in params.items()}
        )
    except (TypeError, ValueError) as error:
        raise Moved("hydra-submitit-launcher", "its executor set-up", error) from None
    sweep_dir = Path(str(sweep_config.hydra.sweep.dir))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    if "mode" in sweep_config.hydra.sweep:
        os.chmod(sweep_dir, mode=int(str(sweep_config.hydra.sweep.mode), 8))
    return executor


def squeue_watcher(states_of, delay_s=10):
    """A submitit watcher for Slurm jobs that reads their states with ``states_of(job ids)``
    (``{task id: state}``, ``None`` to ask again later; a task not in it has ended) instead of
    ``sacct``. Built on submitit's ``SlurmInfoWatcher``, whose ``update`` and its records
    (``_registered``, ``_finished``, ``_info_dict``, ``_last_status_check``) are private."""
    import time

    try:
        from submitit.slurm.slurm import SlurmInfoWatcher

        probe = SlurmInfoWatcher(delay_s=delay_s)
        for name in ("_registered", "_finished", "_info_dict", "_last_status_check"):
            getattr(probe, name)
    except (ImportError, AttributeError) as error:
        raise Moved("submitit", "slurm.SlurmInfoWatcher", error) from None

    class SqueueWatcher(SlurmInfoWatcher):
        def update(self):
            waiting = self._registered - self._finished
            if not waiting:
                return
            states = states_of(sorted({job_id.split("_")[0] for job_id in waiting}))
            if states is None:
                return
            for job_id in waiting:
                state = states.get(job_id, "ENDED")
                self._info_dict[job_id] = {"State": state, "JobID": job_id}
                if state == "ENDED":
                    self._finished.add(job_id)
            self._last_status_check = time.time()

    return SqueueWatcher(delay_s=delay_s)


def use_watcher(job, watcher):
    """Follow one submitit job with ``watcher`` instead of its class's own."""
    job.watcher = watcher
    watcher.register_job(job.job_id)


def submitit_signal_handler(installed):
    """The ``SignalHandler`` submitit installed in a task (its SIGUSR2 handler is that
    object's bound ``checkpoint_and_try_requeue``), or None when it installed none."""
    handler = getattr(installed, "__self__", None)
    needed = ("checkpoint_and_try_requeue", "checkpoint_and_exit")
    if handler is None or not all(hasattr(handler, name) for name in needed):
        return None
    return handler
