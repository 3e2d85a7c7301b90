"""Optuna's JournalStorage kept in a PostgreSQL table: ``hydra.sweeper.storage=
journal+postgresql://USER@HOST/DATABASE``.

A search's study in PostgreSQL through Optuna's RDBStorage costs about 60 ms of the sweeper's
time a trial (SQLAlchemy's ORM sends some 70 statements); the same journal Optuna writes to
``study.log`` costs about 6 ms, and kept in one table of the same server about 10 ms
(bench/search.py, BENCHMARKS.md). Optuna replays the journal itself (``JournalStorage``); this
backend only appends log entries and reads them back in order, as ``JournalFileBackend`` does
with a file:

- one table, ``nnrunner_optuna_journal`` (``log_number`` the primary key, ``log`` the entry's
  JSON text), made on first use; every study of the database shares it, as studies share a
  journal file;
- an append takes a transaction-scoped advisory lock, numbers its entries after the last one
  and commits, so appends from any number of processes are serialised, and a reader (one
  autocommit SELECT) only ever sees a gap-free prefix of the log.

A connection belongs to the process that opened it: a forked process opens its own.
"""

import json
import os
from typing import Any

from optuna.storages.journal import BaseJournalBackend

SCHEME = "journal+"
TABLE = "nnrunner_optuna_journal"


def conninfo(url: str) -> str:
    """``journal+postgresql://...`` (or ``journal+postgresql+psycopg://...``) -> the libpq URL
    psycopg connects with."""
    rest = url[len(SCHEME) :]
    scheme, sep, tail = rest.partition("://")
    return f"{scheme.split('+')[0]}{sep}{tail}"


class PostgresJournalBackend(BaseJournalBackend):
    """Append-only log entries in :data:`TABLE` of the database at ``url``."""

    def __init__(self, url: str, create_table: bool = True) -> None:
        self._conninfo = conninfo(url)
        self._connection = None
        self._pid = None
        if create_table:
            with self._connect().cursor() as cursor:
                cursor.execute(
                    f"CREATE TABLE IF NOT EXISTS {TABLE} "
                    "(log_number bigint PRIMARY KEY, log text NOT NULL)"
                )
        else:  # the sweeper made it: connect now, so an unreachable server is said here
            self._connect()

    def _connect(self):
        if self._connection is None or self._pid != os.getpid() or self._connection.closed:
            import psycopg

            self._connection = psycopg.connect(self._conninfo, autocommit=True)
            self._pid = os.getpid()
        return self._connection

    def read_logs(self, log_number_from: int) -> list[dict[str, Any]]:
        with self._connect().cursor() as cursor:
            cursor.execute(
                f"SELECT log FROM {TABLE} WHERE log_number >= %s ORDER BY log_number",
                (log_number_from,),
            )
            return [json.loads(text) for (text,) in cursor.fetchall()]

    def append_logs(self, logs: list[dict[str, Any]]) -> None:
        connection = self._connect()
        with connection.transaction(), connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (TABLE,))
            cursor.execute(f"SELECT coalesce(max(log_number) + 1, 0) FROM {TABLE}")
            (first,) = cursor.fetchone()
            cursor.executemany(
                f"INSERT INTO {TABLE} (log_number, log) VALUES (%s, %s)",
                [(first + i, json.dumps(log)) for i, log in enumerate(logs)],
            )
