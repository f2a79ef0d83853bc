"""Where a sweep's study lives: a URL -> an Optuna storage, reached (or refused) before any trial runs.

- default: `sqlite:///SWEEP/study.db`, a file in the sweep folder (embedded, nothing to start);
- `postgresql://user:pass@host:5432/db` (or another SQLAlchemy URL): Optuna's RDB storage, shared by
  workers on several machines;
- `redis://host:6379/0`: Optuna's journal storage on Redis.

Each storage also gets a lock that all workers of a study share (a file lock for SQLite, an advisory
lock on PostgreSQL, a Redis lock): claiming a trial and re-queueing a dead worker's trial happen
under it, so two workers never take the same trial (SQLite's own reads and writes are not one atomic
step across processes).
"""
from __future__ import annotations

import hashlib
import warnings
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .errors import SweepError, import_optuna

CONNECT_TIMEOUT_S = 5
SQLITE_BUSY_TIMEOUT_S = 60
_FORMS = "sqlite:///path/study.db, postgresql://user:pass@host:5432/db or redis://host:6379/0"


@dataclass
class Storage:
    url: str                     # as given (it may hold a password: never printed)
    shown: str                   # the URL with its password hidden
    kind: str                    # sqlite | rdb | redis
    optuna: Any                  # the Optuna storage object
    _lock: Callable[[str], Any] = field(default=lambda name: nullcontext(), repr=False)

    def lock(self, name: str):
        """A context manager held while claiming trials of study `name` (shared by every worker)."""
        return self._lock(name)


def default_url(sweep_dir: str | Path) -> str:
    return f"sqlite:///{Path(sweep_dir).resolve() / 'study.db'}"


def hide_password(url: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    try:
        parts = urlsplit(url)
        if parts.password:
            host = parts.hostname or ""
            netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
            return urlunsplit(parts._replace(netloc=netloc))
    except ValueError:
        pass
    return url


def open_storage(url: str, timeout: float = CONNECT_TIMEOUT_S) -> Storage:
    """Connect to `url` (within `timeout` seconds for a server) and return the Storage; a SweepError
    with one line when the URL is malformed, its driver is missing or the server cannot be reached."""
    import_optuna()
    shown = hide_password(url)
    if url.startswith(("redis://", "rediss://", "unix://")):
        return _redis(url, shown, timeout)
    try:
        from sqlalchemy.engine import make_url

        parsed = make_url(url)
        backend = parsed.get_backend_name()
    except Exception:
        raise SweepError(f"--storage {shown}: not a storage URL; expected {_FORMS}") from None
    if backend == "sqlite":
        return _sqlite(url, shown, parsed.database)
    if backend == "postgresql" and "+" not in parsed.drivername:
        url = _postgres_driver(url)
    connect = {"connect_timeout": max(1, int(timeout))} if backend in ("postgresql", "mysql", "mariadb") else {}
    storage = _rdb(url, shown, {"connect_args": connect, "pool_pre_ping": True})
    return Storage(url, shown, "rdb", storage, _server_lock(url, backend, connect))


def _postgres_driver(url: str) -> str:
    """`postgresql://` with the PostgreSQL driver that is installed: SQLAlchemy 2.1 means psycopg 3 by
    it, older versions psycopg2 (the `sweep` extra installs psycopg2-binary)."""
    import importlib.util

    for module, name in (("psycopg2", "psycopg2"), ("psycopg", "psycopg")):
        if importlib.util.find_spec(module) is not None:
            return url.replace("postgresql://", f"postgresql+{name}://", 1)
    return url


SCHEMA_RACE_RETRIES = 5  # workers started together on an empty database race to create Optuna's tables


def _rdb(url: str, shown: str, engine_kwargs: dict):
    import time

    optuna = import_optuna()
    try:
        for attempt in range(SCHEMA_RACE_RETRIES):
            try:
                return optuna.storages.RDBStorage(url, engine_kwargs=engine_kwargs)
            except Exception as e:
                # Two workers creating the schema at once: one wins, the other sees its own CREATE collide
                # ("already exists", a unique violation on the catalog). Once the tables exist, joining works.
                if attempt + 1 == SCHEMA_RACE_RETRIES or "already exists" not in str(e):
                    raise
                time.sleep(0.2 * (attempt + 1))
    except ImportError as e:
        hint = ("pip install 'edgecv[sweep]'" if url.startswith("postgresql") else
                "install the SQLAlchemy driver it names (e.g. pip install pymysql, with a mysql+pymysql:// URL)")
        raise SweepError(f"--storage {shown}: the database driver is not installed ({_reason(e.__cause__ or e)}); {hint}") from None
    except Exception as e:
        raise SweepError(f"--storage {shown}: cannot connect: {_reason(e)}") from None


def _sqlite(url: str, shown: str, database: str | None) -> Storage:
    if not database or database == ":memory:":
        raise SweepError(f"--storage {shown}: an in-memory SQLite study cannot be resumed or shared; give a file, "
                         "e.g. sqlite:///sweep/study.db")
    db = Path(database).expanduser()
    if not db.parent.is_dir():
        raise SweepError(f"--storage {shown}: folder not found: {db.parent}")
    lock = _file_lock(db.with_name(db.name + ".lock"))
    with lock("create"):  # two first workers must not both create the tables
        storage = _rdb(url, shown, {"connect_args": {"timeout": SQLITE_BUSY_TIMEOUT_S}})
    return Storage(url, shown, "sqlite", storage, lock)


def _redis(url: str, shown: str, timeout: float) -> Storage:
    optuna = import_optuna()
    try:
        import redis
    except ImportError:
        raise SweepError(f"--storage {shown}: Redis storage needs the redis client: pip install 'edgecv[sweep]'") from None
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=timeout, socket_timeout=max(timeout, 30))
        client.ping()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalRedisBackend(url))
    except Exception as e:
        raise SweepError(f"--storage {shown}: cannot connect: {_reason(e)}") from None

    @contextmanager
    def lock(name: str):
        with client.lock(f"edgecv-sweep:{name}", timeout=600, blocking_timeout=600):
            yield

    return Storage(url, shown, "redis", storage, lock)


def _file_lock(path: Path) -> Callable[[str], Any]:
    @contextmanager
    def lock(name: str):
        try:
            import fcntl
        except ImportError:  # no flock (Windows): SQLite's own locking only
            yield
            return
        with open(path, "a+") as f:
            fcntl.flock(f.fileno(), fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    return lock


def _server_lock(url: str, backend: str, connect_args: dict) -> Callable[[str], Any]:
    """PostgreSQL: a session-level advisory lock (released by the server if the worker dies). Other
    databases claim atomically by row locks; they get no extra lock."""
    if backend != "postgresql":
        return lambda name: nullcontext()
    import sqlalchemy
    from sqlalchemy.pool import NullPool

    engine = sqlalchemy.create_engine(url, connect_args=connect_args, poolclass=NullPool)

    @contextmanager
    def lock(name: str):
        key = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)
        with engine.connect() as conn:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": key})
            try:
                yield
            finally:
                conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": key})

    return lock


def _reason(e: BaseException) -> str:
    """The driver's own message (psycopg2's 'Connection refused', ...), on one line."""
    orig = getattr(e, "orig", None) or e
    text = " ".join(str(orig).split())
    return (text[:300] if text else type(orig).__name__)

