"""Where a search's study lives, and opening it: the same study for the sweeper and for every
job that reports to it, a continued study checked against the space it was made with, and a
sampler seeded so that the same command proposes the same trials but a continued study does
not propose its first ones again.

Storage: by default Optuna's JournalStorage file ``study.log`` in the sweep folder, an
append-only log that Optuna locks with its own lock files. It is safe where sweep folders of a
cluster live (NFS, Lustre), where SQLite's file locks are not; jobs reporting for pruning from
several processes append to it without waiting on a database lock; and it costs a fraction of
SQLite through SQLAlchemy a trial (bench/search.py; figures in BENCHMARKS.md), which is most of
the sweeper's own cost for short trials. ``optuna-dashboard <folder>/study.log`` opens it.
``storage: sqlite`` keeps ``study.db`` (SQLite in WAL mode) there instead; a URL or a path
ending in ``.log`` keeps the study anywhere; ``journal+postgresql://...`` keeps the same journal
in a PostgreSQL table (``runner.sweeps.search.pg_journal``), a sixth of RDBStorage's cost there.
"""

import math
import re
import shlex
import warnings
from dataclasses import dataclass
from pathlib import Path

from runner.checks import check_objective
from runner.errors import ConfigError
from runner.metric_names import higher_is_better

DEFAULT_STUDY = "nnrunner"
NO_PRUNER = "optuna.pruners.NopPruner"


@dataclass
class Location:
    kind: str  # "rdb", "journal" (a file) or "pgjournal" (a PostgreSQL table)
    target: str  # the URL (rdb, pgjournal) or the journal file's path
    name: str  # the study's name

    @property
    def shown(self):
        return f"journal file {self.target}" if self.kind == "journal" else self.target

    @property
    def dashboard(self):
        if self.kind == "pgjournal":  # optuna-dashboard reads no journal in a database
            return (
                "optuna.load_study(study_name=..., storage=optuna.storages.JournalStorage("
                f"runner.sweeps.search.pg_journal.PostgresJournalBackend({self.target!r})))"
            )
        return f"optuna-dashboard {shlex.quote(self.target)}"


def location(sweeper, sweep_dir, base_dir):
    """``hydra.sweeper.storage`` and ``study_name`` -> Location, every path absolute."""
    storage = sweeper.get("storage")
    name = sweeper.get("study_name") or DEFAULT_STUDY
    text = "journal" if storage is None else str(storage)
    if text == "journal":
        return Location("journal", str(Path(sweep_dir).absolute() / "study.log"), name)
    if text == "sqlite":
        return Location("rdb", f"sqlite:///{Path(sweep_dir).absolute() / 'study.db'}", name)
    if "://" not in text:
        if not text.endswith((".log", ".journal")):
            raise ConfigError(
                "hydra.sweeper.storage",
                text,
                "is neither a URL (sqlite:///study.db) nor a journal file (a path ending "
                ".log); null (or journal) keeps the study in the sweep folder as study.log, "
                "sqlite as study.db",
            )
        return Location("journal", str(_absolute(text, base_dir)), name)
    if text.startswith("journal+postgresql"):
        return Location("pgjournal", text, name)
    if text.startswith("sqlite:///") and not text.startswith("sqlite:////"):
        return Location("rdb", f"sqlite:///{_absolute(text[len('sqlite:///') :], base_dir)}", name)
    return Location("rdb", text, name)


def _absolute(path, base_dir):
    path = Path(path).expanduser()
    return path if path.is_absolute() else Path(base_dir) / path


_opened: dict = {}  # (kind, target) -> storage, kept for the process's later jobs


def open_storage(where, made=False):
    """The Optuna storage at ``where``; a URL that cannot be opened is one ConfigError.

    ``made``: the sweeper made it already (a job reporting to it), so its tables are not
    checked again, and a worker process keeps it open for its next jobs.
    """
    if made and (where.kind, where.target) in _opened:
        return _opened[(where.kind, where.target)]
    storage = _open(where, made)
    if made:
        _opened[(where.kind, where.target)] = storage
    return storage


def _open(where, made):
    import optuna

    try:
        if where.kind == "journal":
            from optuna.storages.journal import JournalFileBackend, JournalStorage

            Path(where.target).parent.mkdir(parents=True, exist_ok=True)
            return JournalStorage(JournalFileBackend(where.target))
        if where.kind == "pgjournal":
            from optuna.storages.journal import JournalStorage

            from runner.sweeps.search.pg_journal import PostgresJournalBackend

            backend = _created_once(
                lambda: PostgresJournalBackend(where.target, create_table=not made)
            )
            return JournalStorage(backend)
        if not where.target.startswith("sqlite:///"):
            storage = _created_once(
                lambda: optuna.storages.RDBStorage(
                    where.target, skip_compatibility_check=made, skip_table_creation=made
                )
            )
            if made:  # no table was checked, so nothing has connected yet: an unreachable
                with storage.engine.connect():  # server is still this one line, here
                    pass
            return storage
        path = Path(where.target[len("sqlite:///") :])
        path.parent.mkdir(parents=True, exist_ok=True)
        if not made:
            _write_ahead_log(path)
        storage = _created_once(
            lambda: optuna.storages.RDBStorage(
                where.target,
                engine_kwargs={"connect_args": {"timeout": 60}},
                skip_compatibility_check=made,
                skip_table_creation=made,
            )
        )
        _sync_at_checkpoints(storage.engine)
        return storage
    except Exception as error:  # noqa: BLE001 - SQLAlchemy's and the drivers' many kinds
        reason = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise ConfigError(
            "hydra.sweeper.storage",
            where.target,
            f"cannot be opened: {reason.rstrip('.')}{_hint(where, error)}",
        ) from None


def _hint(where, error):
    """How to get the database driver a URL needs, when its import failed."""
    text = f"{error} {error.__cause__ or ''} {error.__context__ or ''}"
    if not where.target.startswith(("postgresql", "journal+postgresql")) or not (
        isinstance(error, ImportError) or "import" in text.lower()
    ):
        return ""
    return "; its driver is not installed: pip install -e '.[postgres]' (psycopg 3)" + (
        ""
        if where.kind == "pgjournal"
        else " and write the URL as postgresql+psycopg://USER@HOST/DATABASE"
    )


SCHEMA_TRIES = 5


SCHEMA_RACES = (
    "already exists",  # CREATE TABLE lost the race
    "UNIQUE constraint failed: alembic_version",  # SQLite: both stamped the schema version
    "duplicate key value violates unique constraint",  # PostgreSQL: the same, or a type
)


def _schema_race(error: BaseException) -> bool:
    """Whether ``error`` is another process creating the same new database's tables at the
    same moment, which a second try resolves."""
    return any(race in str(error) for race in SCHEMA_RACES)


def _created_once(open_storage):
    """``open_storage()``, tried again when another process was creating the same new
    database's tables at that moment (SQLAlchemy's ``table studies already exists``, or the
    schema version stamped twice): the second try finds them made."""
    import time

    for attempt in range(SCHEMA_TRIES):
        try:
            return open_storage()
        except Exception as error:  # noqa: BLE001 - SQLAlchemy's OperationalError, wrapped or not
            if not _schema_race(error) or attempt == SCHEMA_TRIES - 1:
                raise
            time.sleep(0.1 * (attempt + 1))
    raise AssertionError("unreachable")


def _write_ahead_log(path):
    """SQLite in WAL mode (kept in the file): the sweeper writes while jobs read and report,
    and a commit appends to the log instead of rewriting pages.

    Switching the mode needs the file to itself, and SQLite reports "database is locked" at
    once, without waiting, when another process opens or switches the same new file at that
    moment: tried again for up to a minute, as the connection's own timeout would."""
    import sqlite3
    import time

    deadline = time.monotonic() + 60
    while True:
        connection = sqlite3.connect(path, timeout=60)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
        finally:
            connection.close()
        time.sleep(0.05)


def _sync_at_checkpoints(engine):
    """``synchronous=NORMAL``: with WAL, safe against a crash of any process (a power cut may
    lose the last trials), and it spares an fsync per commit: about a third of the sweeper's
    time per trial."""
    from sqlalchemy import event

    engine.dispose()  # connections made from here on get the setting

    @event.listens_for(engine, "connect")
    def _normal_sync(connection, _record):
        connection.execute("PRAGMA synchronous=NORMAL")


def objectives(task_config):
    """The task's ``objective``, one name or a list of them -> list of names, checked."""
    return check_objective(task_config.get("objective"))


def directions(sweeper, names):
    """``hydra.sweeper.direction`` -> one of minimize/maximize per objective."""
    from omegaconf import ListConfig

    given = sweeper.get("direction")
    if given is None:
        return ["maximize" if higher_is_better(name) else "minimize" for name in names]
    found = list(given) if isinstance(given, (list, ListConfig)) else [given]
    found = [getattr(d, "name", d) for d in found]
    for d in found:
        if d not in ("minimize", "maximize"):
            raise ConfigError(
                "hydra.sweeper.direction", given, "choose minimize or maximize (one per objective)"
            )
    if len(found) != len(names):
        raise ConfigError(
            "hydra.sweeper.direction",
            given,
            f"gives {len(found)} direction(s) for {len(names)} objective(s) "
            f"(objective={names if len(names) > 1 else names[0]}); give one per objective",
        )
    return found


def build(section, config, key, extra=None):
    """Instantiate ``hydra.sweeper.<key>`` (a sampler or pruner config) -> the object. Only an
    Optuna class is built (``optuna.samplers.*``, ``optuna.pruners.*``): a config's ``_target_``
    names code to run, and Hydra 1.3 has no execution whitelist to refuse another."""
    from hydra.utils import get_class
    from omegaconf import OmegaConf

    settings = OmegaConf.to_container(config, resolve=True) if config is not None else {}
    target = settings.pop("_target_", None)
    if not target:
        raise ConfigError(
            f"hydra.sweeper.{key}",
            None,
            f"is not set; choose hydra/sweeper/{key}=... from {section}",
        )
    allowed = f"optuna.{key}s."  # optuna.samplers. or optuna.pruners.: nothing else is built
    if not str(target).startswith(allowed):
        raise ConfigError(
            f"hydra.sweeper.{key}._target_",
            target,
            f"is not an Optuna {key}: only a class in {allowed[:-1]} is allowed; "
            f"choose hydra/sweeper/{key}= one of {section}",
        )
    try:
        cls = get_class(target)
        # a name under optuna.samplers that is another package's class reached through it
        if not cls.__module__.startswith("optuna."):
            raise TypeError(cls.__module__)
    except Exception:  # noqa: BLE001 - Hydra wraps import errors in several kinds
        raise ConfigError(
            f"hydra.sweeper.{key}._target_",
            target,
            f"is not an Optuna {key}; choose hydra/sweeper/{key}= one of {section}",
        ) from None
    try:
        with warnings.catch_warnings():  # QMC and others are "experimental" in Optuna's terms
            warnings.simplefilter("ignore", category=optuna_experimental_warning())
            return cls(**settings, **(extra or {}))
    except (TypeError, ValueError) as error:
        text = str(error).splitlines()[0]
        unknown = re.search(r"unexpected keyword argument '(\w+)'", text)
        if unknown:
            name = unknown.group(1)
            raise ConfigError(
                f"hydra.sweeper.{key}.{name}",
                settings.get(name),
                f"{cls.__name__} takes no such setting",
            ) from None
        raise ConfigError(f"hydra.sweeper.{key}", cls.__name__, text) from None


def optuna_experimental_warning():
    from optuna.exceptions import ExperimentalWarning

    return ExperimentalWarning


def pruner_of(sweeper):
    """The configured pruner, or None for none (NopPruner)."""
    config = sweeper.get("pruner")
    if config is None or str(config.get("_target_", "")) == NO_PRUNER:
        return None
    return build(PRUNERS, config, "pruner")


SAMPLERS = "tpe, random, cmaes, grid, qmc, nsgaii"
PRUNERS = "none, median, asha, hyperband"


def sampler_of(sweeper, continuing_after, grid=None, worker=0):
    """The configured sampler, seeded. A study continued after N trials gets the seed mixed
    with N, so the trials proposed next are new ones (a sampler seeded as before would start
    its random start-up over and propose the first trials again); a process that is not the
    study's only one (``worker`` > 0, ``runner.sweeps.search.workers``) gets it mixed with its
    worker number too, so two processes started together propose different trials."""
    from omegaconf import OmegaConf, open_dict

    config = (
        OmegaConf.create(OmegaConf.to_container(sweeper.get("sampler"), resolve=True))
        if sweeper.get("sampler") is not None
        else None
    )
    if config is not None and config.get("seed") is not None and (continuing_after or worker):
        import numpy as np

        entropy = [int(config.seed), continuing_after] + ([worker] if worker else [])
        mixed = np.random.SeedSequence(entropy).generate_state(1)[0]
        with open_dict(config):
            config.seed = int(mixed)
    extra = {"search_space": grid} if grid is not None else None
    sampler = build(SAMPLERS, config, "sampler", extra)
    if type(sampler).__name__ == "CmaEsSampler":
        import importlib.util

        if importlib.util.find_spec("cmaes") is None:  # Optuna imports it at the first trial
            raise ConfigError(
                "hydra/sweeper/sampler",
                "cmaes",
                'needs the cmaes package, which is not installed: pip install -e ".[optuna]"',
            )
    return sampler


def is_grid_sampler(sweeper):
    sampler = sweeper.get("sampler")
    return sampler is not None and str(sampler.get("_target_", "")).endswith("GridSampler")


def open_study(where, storage, dirs, space_description, objective_names, sampler=None, pruner=None):
    """Create the study, or load it when it exists; a stored study made with another search
    space, other directions or another objective is refused, not silently mixed."""
    import optuna

    existing = {
        s.study_name: s for s in optuna.get_all_study_summaries(storage, include_best_trial=False)
    }
    if where.name in existing:
        study = optuna.load_study(
            study_name=where.name, storage=storage, sampler=sampler, pruner=pruner
        )
        _check_same(study, where, dirs, space_description, objective_names)
        return study, True
    try:
        study = optuna.create_study(
            study_name=where.name, storage=storage, directions=dirs, sampler=sampler, pruner=pruner
        )
    except optuna.exceptions.DuplicatedStudyError:  # another process made it just now
        study = optuna.load_study(
            study_name=where.name, storage=storage, sampler=sampler, pruner=pruner
        )
        _check_same(study, where, dirs, space_description, objective_names)
        return study, True
    study.set_user_attr("search_space", space_description)
    study.set_user_attr("objective", objective_names)
    return study, False


def _check_same(study, where, dirs, space_description, objective_names):
    stored_space = study.user_attrs.get("search_space")
    stored_dirs = [d.name.lower() for d in study.directions]
    stored_objective = study.user_attrs.get("objective")
    problem = None
    if stored_space is not None and stored_space != space_description:
        changed = sorted(
            set(stored_space) ^ set(space_description)
            | {
                k
                for k in set(stored_space) & set(space_description)
                if stored_space[k] != space_description[k]
            }
        )
        problem = f"was made with another search space (differs in {', '.join(changed)})"
    elif stored_dirs != dirs:
        problem = f"was made to {', '.join(stored_dirs)}, not to {', '.join(dirs)}"
    elif stored_objective is not None and stored_objective != objective_names:
        problem = f"was made for objective {stored_objective}, not {objective_names}"
    if problem:
        raise ConfigError(
            "hydra.sweeper.study_name",
            where.name,
            f"{problem} in {where.shown}; choose another study_name or storage to start a new study",
        )


def finite(value):
    return isinstance(value, (int, float)) and math.isfinite(value)
