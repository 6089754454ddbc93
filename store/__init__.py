"""SQLite behind one writer thread, with a fast lane on the event loop for short calls.

Every database call from the event loop goes through the Store: `Store.run(fn, *args)` runs `fn(db, *args)` on
the store's own thread; `Store.run_quick` runs it on the event loop's own connection, for the short calls of the
inbound path. Either way, calls that arrive together share one transaction (group commit), each inside its own
savepoint so one failing call does not undo the others. A second thread checkpoints the WAL, so that a
commit never waits for pages to be copied back. The CLI uses the same functions synchronously through
`open_db` + `transaction`.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import queue
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from sqlite_utils import Database

from errors import ConfigError
from store.migrations import migrations

__all__ = ["Store", "open_db", "transaction", "insert_row", "bump", "revisions", "get_meta", "set_meta", "meta_secret", "dumps",
           "loads"]

log = logging.getLogger(__name__)
T = TypeVar("T")
_BATCH_MAX = 256
_CHECKPOINT_EVERY = 1.0  # seconds between WAL checkpoints by the gateway's checkpointer thread


def open_db(path: str | Path) -> Database:
    """Open (creating folders and schema as needed) a database file, WAL mode. ConfigError, naming the file,
    when it cannot be opened or written, is not SQLite, or is some other program's database."""
    path = Path(path)
    conn = None
    try:
        if str(path) != ":memory:":
            path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(str(path), timeout=15.0, isolation_level=None, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute("PRAGMA foreign_keys=ON")
        db = Database(conn)
        if migrations.pending(db):
            with transaction(db):  # one process migrates; one started beside it waits, then finds nothing to do
                _migrate(db, path)
        return db
    except BaseException as exc:
        if conn is not None:
            conn.close()
        if isinstance(exc, (OSError, sqlite3.Error)):
            raise ConfigError(f"数据库 {path}: 无法打开或写入（{exc}）") from None
        raise


def _migrate(db: Database, path: Path) -> None:
    pending = migrations.pending(db)
    if pending and pending[0].name == "m001_initial" and db.table_names():
        raise ConfigError(f"数据库 {path}: 已有其他程序的数据表（{', '.join(db.table_names()[:5])}），不是 gongkai 的数据库")
    migrations.apply(db)


@contextmanager
def transaction(db: Database) -> Iterator[Database]:
    """BEGIN IMMEDIATE ... COMMIT: take the write lock up front so a CLI and the gateway never deadlock."""
    if db.conn.in_transaction:
        with db.atomic():
            yield db
        return
    db.conn.execute("BEGIN IMMEDIATE")
    try:
        yield db
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    db.conn.execute("COMMIT")


def insert_row(db: Database, table: str, row: dict[str, Any]) -> int:
    """A plain INSERT for hot paths (sqlite-utils' insert introspects the table on every call)."""
    cursor = db.execute(_insert_sql(table, tuple(row)), list(row.values()))
    return int(cursor.lastrowid or 0)


@functools.lru_cache(maxsize=64)
def _insert_sql(table: str, columns: tuple[str, ...]) -> str:
    return f"INSERT INTO [{table}] ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def loads(text: str | None, default: Any = None) -> Any:
    return json.loads(text) if text else default


def get_meta(db: Database, key: str, default: str | None = None) -> str | None:
    row = db.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchone()
    return row[0] if row else default


def set_meta(db: Database, key: str, value: str) -> None:
    db.execute("INSERT INTO meta(key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
               [key, value])


def meta_secret(db: Database, key: str) -> bytes:
    """A random 32-byte key of this installation, made on first use and kept in `meta`; never shown."""
    value = get_meta(db, key)
    if value is None:
        value = secrets.token_hex(32)
        set_meta(db, key, value)
    return bytes.fromhex(value)


def bump(db: Database, area: str) -> None:
    """Record that `area` (catalog, groups, notices ...) changed, so a running gateway reloads it."""
    db.execute(
        "INSERT INTO meta(key, value) VALUES (?, '1') "
        "ON CONFLICT(key) DO UPDATE SET value = CAST(value AS INTEGER) + 1",
        [f"rev:{area}"],
    )


def revisions(db: Database) -> dict[str, int]:
    rows = db.execute("SELECT key, value FROM meta WHERE key LIKE 'rev:%'").fetchall()
    return {key[4:]: int(value) for key, value in rows}


class _Job:
    __slots__ = ("fn", "args", "future", "loop")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...], future: asyncio.Future[Any] | None,
                 loop: asyncio.AbstractEventLoop | None) -> None:
        self.fn, self.args, self.future, self.loop = fn, args, future, loop


_Result = tuple[_Job, Any, "BaseException | None"]


class Store:
    """The async facade: `await store.run(fn, *args)` runs `fn(db, *args)` on the writer thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._error: BaseException | None = None
        self._quick: list[_Job] = []  # run_quick / submit calls of this turn of the event loop
        self._quick_db: Database | None = None

    def start(self) -> None:
        """Open the database on its own thread; raises here if it cannot be opened."""
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="gongkai-store", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._error is not None:
            raise self._error

    async def close(self) -> None:
        if self._thread is None:
            return
        if self._quick:
            self._run_quick_batch()
        if self._quick_db is not None:
            self._quick_db.close()
            self._quick_db = None
        self._queue.put(None)
        await asyncio.get_running_loop().run_in_executor(None, self._thread.join)
        self._thread = None

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """Run `fn(db, *args)` in a transaction on the writer thread and return its result."""
        if self._thread is None:
            raise RuntimeError("store is not started")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._queue.put(_Job(fn, args, future, loop))
        return await future

    async def run_quick(self, fn: Callable[..., T], *args: Any) -> T:
        """`run` for short calls on the hot path (an inbound message), without the hand-over to the writer
        thread and back: the calls of one turn of the event loop run at the end of the turn, in one transaction
        on the loop's own connection. That hand-over, and the two threads taking the GIL from each other,
        cost more than the call itself. If another connection (the writer thread, the CLI) holds the write
        lock, the turn's calls go to the writer thread instead, in order: the loop never waits for a lock."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()
        self._add_quick(_Job(fn, args, future, loop), loop)
        return await future

    def submit(self, fn: Callable[..., Any], *args: Any) -> None:
        """Queue `fn(db, *args)` without waiting for it: it commits with this turn's `run_quick` calls, and a
        failure is logged. For short bookkeeping whose caller has nothing to do with the result."""
        self._add_quick(_Job(fn, args, None, None), asyncio.get_running_loop())

    def _add_quick(self, job: _Job, loop: asyncio.AbstractEventLoop) -> None:
        if self._thread is None:
            raise RuntimeError("store is not started")
        self._quick.append(job)
        if len(self._quick) == 1:
            loop.call_soon(self._run_quick_batch)

    def _run_quick_batch(self) -> None:
        batch, self._quick = self._quick, []
        if not batch:  # close() ran them already
            return
        try:
            db = self._loop_connection()
            if db is None:
                raise sqlite3.OperationalError("an in-memory database is the writer thread's alone")
            db.conn.execute("BEGIN IMMEDIATE")  # busy timeout 0: fails at once when the lock is taken
        except sqlite3.Error:  # locked, or cannot open: the writer thread waits, retries and reports
            for job in batch:
                self._queue.put(job)
            return
        _settle(_commit_jobs(db, batch))

    def _loop_connection(self) -> Database | None:
        """The event loop's connection: no migrations (the writer ran them), no waiting for locks."""
        if self._quick_db is None and self.path != ":memory:":
            conn = sqlite3.connect(self.path, timeout=0, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA wal_autocheckpoint=0")  # the checkpointer thread does it
            self._quick_db = Database(conn)
        return self._quick_db

    def _loop(self) -> None:
        try:
            db = open_db(self.path)
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()
            return
        checkpointer = None
        if self.path != ":memory:":
            # The writer never checkpoints itself: copying the WAL back and syncing the file would stall every
            # caller waiting on this thread (and the event loop's requests with them). A thread of its own does.
            db.conn.execute("PRAGMA wal_autocheckpoint=0")
            checkpointer = threading.Thread(target=self._checkpoints, name="gongkai-checkpoint", daemon=True)
            checkpointer.start()
        self._ready.set()
        try:
            while True:
                first = self._queue.get()
                if first is None:
                    break
                batch = [first]
                stop = False
                while len(batch) < _BATCH_MAX:
                    try:
                        job = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if job is None:
                        stop = True
                        break
                    batch.append(job)
                self._run_batch(db, batch)
                if stop:
                    break
        finally:
            self._stopping.set()
            if checkpointer is not None:
                checkpointer.join()
            db.close()  # the last connection to close checkpoints what is left and removes the WAL

    def _checkpoints(self) -> None:
        """PASSIVE checkpoints on a connection of their own: they never block the writer (SQLite releases the
        GIL while it copies), and they keep the WAL from growing without bound."""
        conn = sqlite3.connect(self.path, timeout=15.0, isolation_level=None, check_same_thread=False)
        try:
            while not self._stopping.wait(_CHECKPOINT_EVERY):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error as exc:  # e.g. the disk is full: the WAL keeps the data; try again later
                    log.warning("store: WAL checkpoint failed: %s", exc)
        finally:
            conn.close()

    def _run_batch(self, db: Database, batch: list[_Job]) -> None:
        try:
            db.conn.execute("BEGIN IMMEDIATE")
        except Exception as exc:  # locked for longer than the busy timeout
            log.error("store: no write lock, %d calls failed: %s", len(batch), exc)
            results: list[_Result] = [(job, None, exc) for job in batch]
        else:
            results = _commit_jobs(db, batch)
        # One wake-up of each event loop per batch, not one per job: each wake-up is a write to the loop's pipe.
        by_loop: dict[asyncio.AbstractEventLoop, list[_Result]] = {}
        for result in results:
            if result[0].future is not None:
                by_loop.setdefault(result[0].loop, []).append(result)
        for loop, settled in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, settled)
            except RuntimeError:  # the loop was closed while the job ran: nobody is waiting any more
                pass


def _commit_jobs(db: Database, batch: list[_Job]) -> list[_Result]:
    """The jobs in the transaction the caller began, each in its own savepoint, then COMMIT."""
    try:
        results = [_run_job(db, job) for job in batch]
        db.conn.execute("COMMIT")
    except Exception as exc:  # COMMIT failed: nothing of this batch is stored
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        log.error("store: transaction failed, %d calls undone: %s", len(batch), exc)
        results = [(job, None, exc) for job in batch]
    except BaseException:
        if db.conn.in_transaction:
            db.conn.execute("ROLLBACK")
        raise
    return results


def _run_job(db: Database, job: _Job) -> _Result:
    """One call inside its own savepoint: its failure undoes only its own writes."""
    conn = db.conn
    conn.execute("SAVEPOINT job")
    try:
        value = job.fn(db, *job.args)
    except Exception as exc:  # handed to the awaiting caller
        if conn.in_transaction:
            conn.execute("ROLLBACK TO job")
            conn.execute("RELEASE job")
        if job.future is None:
            log.error("store: %s failed: %s", getattr(job.fn, "__name__", job.fn), exc)
        return job, None, exc
    conn.execute("RELEASE job")
    return job, value, None


def _settle(results: list[_Result]) -> None:
    for job, value, error in results:
        future = job.future
        if future is None or future.cancelled():
            continue
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(value)
