"""Store write throughput: enquiry-sized inserts through Store.run (one writer thread, group commit) and
Store.run_quick (the event loop's own connection, one commit per turn of the loop), beside a commit per call in
WAL mode and in the default rollback journal, all on a real file."""

from __future__ import annotations

import asyncio
import sqlite3
import tempfile
import time
from pathlib import Path

import _util  # noqa: F401  (puts the repo on sys.path)
from sqlite_utils import Database

from store import Store, insert_row

CALLS = 20000
CONCURRENCY = 64
ROW = {"at": "2026-11-27T09:00:00+08:00", "channel": "webhook", "bot": "b", "chat": "c", "sender": "s" * 16,
       "question": "小饭桌怎么备案", "matches": "[]", "answered": 1, "kind": "enquiry", "request_id": "",
       "reply": "为您找到：《关于小饭桌备案管理的通知》" * 3}


def insert(db: Database) -> None:
    insert_row(db, "enquiries", ROW)


async def grouped(path: Path, quick: bool = False) -> float:
    store = Store(path)
    store.start()
    calls = iter(range(CALLS))
    run = store.run_quick if quick else store.run

    async def worker() -> None:
        for _ in calls:
            await run(insert)

    started = time.perf_counter()
    await asyncio.gather(*[worker() for _ in range(CONCURRENCY)])
    elapsed = time.perf_counter() - started
    await store.close()
    return CALLS / elapsed


def per_call(path: Path, journal: str) -> float:
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.execute(f"PRAGMA journal_mode={journal}")
    conn.execute("PRAGMA synchronous=FULL" if journal == "delete" else "PRAGMA synchronous=NORMAL")
    conn.execute("CREATE TABLE enquiries (" + ", ".join(ROW) + ")")
    sql = f"INSERT INTO enquiries VALUES ({', '.join('?' for _ in ROW)})"
    calls = CALLS // 4
    started = time.perf_counter()
    for _ in range(calls):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(sql, list(ROW.values()))
        conn.execute("COMMIT")
    elapsed = time.perf_counter() - started
    conn.close()
    return calls / elapsed


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rollback = per_call(folder / "a.db", "delete")
        wal = per_call(folder / "b.db", "wal")
        group = asyncio.run(grouped(folder / "c.db"))
        quick = asyncio.run(grouped(folder / "d.db", quick=True))
    print(f"commit per call, rollback journal:        {rollback:8.0f} writes/s")
    print(f"commit per call, WAL:                     {wal:8.0f} writes/s")
    print(f"Store.run, writer thread + group commit:  {group:8.0f} writes/s  ({CONCURRENCY} concurrent callers)")
    print(f"Store.run_quick, a commit per loop turn:  {quick:8.0f} writes/s  ({CONCURRENCY} concurrent callers)")


if __name__ == "__main__":
    main()
