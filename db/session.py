"""Engine (one per process, with SQLite pragmas), the one session scope, and schema upgrade."""

from __future__ import annotations

import functools
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TypeVar

from sqlalchemy import Engine, create_engine, event, func
from sqlalchemy.exc import DatabaseError, InterfaceError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from core.config import get_settings
from core.errors import CorruptDatabaseError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_engines: dict[tuple[int, str], tuple[Engine, sessionmaker[Session]]] = {}
_lock = threading.Lock()
log = logging.getLogger("optlab.db")
T = TypeVar("T")
# What a database says while it is briefly unavailable: SQLite's write lock outlasting busy_timeout,
# a Postgres restart or a dropped connection. Anything else (a missing table, bad SQL) is no blip.
_TRANSIENT_SIGNS = ("database is locked", "database is busy", "could not connect", "connection refused",
                    "server closed the connection", "terminating connection", "the database system is",
                    "connection reset", "connection is closed", "timeout expired")


def _set_sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the pages read while a job writes; busy_timeout rides out the short write locks.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=15000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def get_engine(url: str | None = None) -> Engine:
    """Returns this process's engine for url (default: the configured database).

    Keyed by pid so that a forked child never reuses its parent's connections.
    """
    url = url or get_settings().database_url
    key = (os.getpid(), url)
    with _lock:
        if key not in _engines:
            if url.startswith("sqlite:///"):
                Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
            # pre_ping: a pooled connection that a database restart killed is replaced, not used.
            engine = create_engine(url, pool_pre_ping=True)
            if engine.dialect.name == "sqlite":
                event.listen(engine, "connect", _set_sqlite_pragmas)
            _engines[key] = (engine, sessionmaker(engine, expire_on_commit=False))
        return _engines[key][0]


def database_now(ago: timedelta = timedelta(0)):
    """The database's own UTC clock (minus ago) as a SQL expression, for heartbeats and staleness.

    Workers on several machines write heartbeats that one watcher compares: each machine's own
    clock would make a skewed one look stale (or never stale). SQLite's is UTC at whole seconds.
    """
    if get_engine().dialect.name == "sqlite":
        return func.datetime("now", f"{-ago.total_seconds():+.3f} seconds")
    return func.timezone("UTC", func.now()) - ago


def is_transient(error: BaseException) -> bool:
    """Whether error is the database being briefly unavailable (worth trying again)."""
    return isinstance(error, (OperationalError, InterfaceError)) and (
        error.connection_invalidated or any(sign in str(error).lower() for sign in _TRANSIENT_SIGNS))


def retry_transient(function: Callable[..., T]) -> Callable[..., T]:
    """Runs function again, with backoff, while the database is locked or unreachable.

    A repository function is one unit of work in one session_scope (rolled back on error), so
    running it again is safe. Gives up after OPTLAB_DB_RETRY_SECONDS (120 s) with the last error.
    """
    @functools.wraps(function)
    def retrying(*args, **kwargs) -> T:
        deadline, pause = time.monotonic() + get_settings().db_retry_seconds, 0.2
        while True:
            try:
                return function(*args, **kwargs)
            except (OperationalError, InterfaceError) as error:
                if not is_transient(error) or time.monotonic() + pause > deadline:
                    raise
                log.warning("%s: database unavailable (%s); retrying in %.1f s", function.__name__,
                            str(error.orig or error).splitlines()[0][:120], pause)
                time.sleep(pause)
                pause = min(pause * 2, 5.0)
    return retrying


@contextmanager
def session_scope(url: str | None = None) -> Iterator[Session]:
    """Yields a session that commits on success and rolls back on error."""
    get_engine(url)
    factory = _engines[(os.getpid(), url or get_settings().database_url)][1]
    session = factory()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


# SQLite's words for a file that is no (longer a) database: truncated, overwritten, not SQLite.
_CORRUPT = ("file is not a database", "malformed", "disk image", "not a database")
_WAY_OUT = ("Stop the lab, move the file aside (e.g. `mv {path} {path}.broken`), then restore a backup "
            "(`python -m core restore BACKUP.zip`, or Export > Restore), or start an empty lab.")


def _refuse_empty_file_beside_artifacts(url: str) -> None:
    """A 0-byte database file while models / datasets are stored: the lab would start empty and
    orphan them, so it stops and says so instead."""
    if not url.startswith("sqlite:///"):
        return
    path = Path(url.removeprefix("sqlite:///"))
    data_dir = get_settings().data_dir
    stored = any(any((data_dir / kind).iterdir()) for kind in ("models", "datasets") if (data_dir / kind).is_dir())
    if path.is_file() and path.stat().st_size == 0 and stored:
        raise CorruptDatabaseError(f"The lab's database {path} is empty (0 bytes) while the data folder holds "
                                   "stored models or datasets; the lab does not start over silently. "
                                   + _WAY_OUT.format(path=path))


def upgrade_schema(url: str | None = None) -> None:
    """Brings the database to the newest Alembic revision (creates it when new).

    Raises:
        CorruptDatabaseError: The SQLite file is damaged, or empty beside stored artifacts; the
            message names the file and the way out (restore a backup).
    """
    url = url or get_settings().database_url
    _refuse_empty_file_beside_artifacts(url)
    try:
        _upgrade(url)
    except DatabaseError as error:
        if not any(sign in str(error.orig or error) for sign in _CORRUPT):
            raise
        path = url.removeprefix("sqlite:///")
        raise CorruptDatabaseError(f"The lab's database {path} is damaged ({error.orig or error}); nothing was "
                                   "changed. " + _WAY_OUT.format(path=path)) from None


def _upgrade(url: str) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    engine = get_engine(url)
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        if sqlite:
            # A migration that rebuilds a table drops the old one: with foreign keys enforced, that
            # drop would cascade into every row referring to it. (A PRAGMA outside a transaction.)
            connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
            connection.commit()
        try:
            with connection.begin():
                config.attributes["connection"] = connection
                command.upgrade(config, "head")
        finally:
            if sqlite:
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()
