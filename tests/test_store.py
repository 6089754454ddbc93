"""Store: migrations recorded, WAL on, group commit keeps each call's failure to itself."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlite_utils import Database

from errors import ConfigError
from store import Store, bump, get_meta, open_db, revisions, transaction
from store.migrations import migrations

ROOT = Path(__file__).resolve().parent.parent


def test_open_db_migrates_and_uses_wal(tmp_path: Path) -> None:
    db = open_db(tmp_path / "sub" / "g.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    applied = [r["name"] for r in db["_sqlite_migrations"].rows]
    assert applied[0] == "m001_initial"
    assert {"catalog", "enquiries", "requests", "replies", "groups"} <= set(db.table_names())
    db.close()
    again = open_db(tmp_path / "sub" / "g.db")  # re-opening applies nothing twice
    assert [r["name"] for r in again["_sqlite_migrations"].rows] == applied
    again.close()


def test_transaction_rolls_back_on_error(tmp_path: Path) -> None:
    db = open_db(tmp_path / "g.db")
    with pytest.raises(RuntimeError):
        with transaction(db):
            bump(db, "catalog")
            raise RuntimeError("boom")
    assert revisions(db) == {}
    db.close()


def _good(db: Database, n: int) -> int:
    bump(db, "catalog")
    return n


def _bad(db: Database) -> None:
    bump(db, "catalog")
    raise ValueError("bad call")


@pytest.mark.parametrize("lane", ["run", "run_quick"])
async def test_group_commit_isolates_failures(tmp_path: Path, lane: str) -> None:
    store = Store(tmp_path / "g.db")
    store.start()
    run = getattr(store, lane)
    results = await asyncio.gather(*[run(_good, i) for i in range(50)], run(_bad), return_exceptions=True)
    assert results[:50] == list(range(50))
    assert isinstance(results[50], ValueError)
    assert (await store.run(revisions))["catalog"] == 50  # the failed call's bump was rolled back alone
    await store.close()


async def test_quick_calls_of_one_turn_share_one_transaction_on_the_loops_connection(tmp_path: Path) -> None:
    path = tmp_path / "g.db"
    store = Store(path)
    store.start()

    def seen_from_outside(db: Database) -> tuple[object, int]:
        """What another connection sees of the bump made earlier in this turn, and which connection ran this."""
        reader = sqlite3.connect(path)
        try:
            row = reader.execute("SELECT value FROM meta WHERE key = 'rev:catalog'").fetchone()
        finally:
            reader.close()
        return row, id(db.conn)

    _, (outside, quick_conn) = await asyncio.gather(store.run_quick(bump, "catalog"),
                                                    store.run_quick(seen_from_outside))
    assert outside is None  # not committed yet: the bump and this call are in one transaction
    assert (await store.run(seen_from_outside))[0] == ("1",)  # committed at the end of the turn
    assert (await store.run(lambda db: id(db.conn))) != quick_conn  # the loop's own connection, not the writer's
    await store.close()


async def test_quick_calls_go_to_the_writer_while_another_connection_holds_the_lock(tmp_path: Path) -> None:
    """A CLI import holding the write lock must not freeze the event loop: the calls wait on the writer thread."""
    path = tmp_path / "g.db"
    store = Store(path)
    store.start()
    await store.run_quick(bump, "catalog")  # the loop's connection is open and has written once
    cli = sqlite3.connect(path, isolation_level=None)
    cli.execute("BEGIN IMMEDIATE")
    cli.execute("INSERT INTO meta(key, value) VALUES ('rev:groups', '7')")
    pending = asyncio.ensure_future(store.run_quick(bump, "catalog"))
    started = time.perf_counter()
    await asyncio.sleep(0.2)
    assert time.perf_counter() - started < 1.0  # the loop kept turning
    assert not pending.done()  # waiting for the lock, on the writer thread
    cli.execute("COMMIT")
    cli.close()
    await asyncio.wait_for(pending, 5)
    assert await store.run_quick(revisions) == {"catalog": 2, "groups": 7}
    await store.close()


async def test_an_in_memory_store_runs_quick_calls_on_the_writer(tmp_path: Path) -> None:
    store = Store(":memory:")
    store.start()
    await asyncio.gather(*[store.run_quick(bump, "catalog") for _ in range(5)])
    store.submit(bump, "catalog")
    assert (await store.run_quick(revisions))["catalog"] == 6
    await store.close()


async def test_store_reports_an_unopenable_file(tmp_path: Path) -> None:
    (tmp_path / "dir.db").mkdir()
    with pytest.raises(ConfigError, match=r"dir\.db: 无法打开"):
        Store(tmp_path / "dir.db").start()


def test_a_file_that_is_not_a_database_is_named(tmp_path: Path) -> None:
    (tmp_path / "notes.db").write_text("hello", encoding="utf-8")
    (tmp_path / "afile").write_text("", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"notes\.db: 无法打开或写入（file is not a database）"):
        open_db(tmp_path / "notes.db")
    with pytest.raises(ConfigError, match="afile"):
        open_db(tmp_path / "afile" / "g.db")  # a file where the folder should be


def test_another_programs_database_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE catalog (x)")
    with pytest.raises(ConfigError, match="不是 gongkai 的数据库"):
        open_db(path)
    with sqlite3.connect(path) as conn:
        assert [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")] == ["catalog"]


def test_processes_opening_a_new_database_at_once_all_succeed(tmp_path: Path) -> None:
    """Migrations run under the write lock: the first process migrates, the others wait and find nothing to do.
    Without it, about one start in ten of two at once failed ('table ... already exists', 'database is locked')."""
    path = tmp_path / "new.db"
    code = f"import sys; sys.path.insert(0, {str(ROOT)!r}); from store import open_db; open_db({str(path)!r}).close()"
    procs = [subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE) for _ in range(8)]
    errors = [p.communicate(timeout=60)[1].decode() for p in procs]
    assert [p.returncode for p in procs] == [0] * 8, errors
    db = open_db(path)
    assert db["catalog"].exists() and not migrations.pending(db)
    db.close()


async def test_submitted_calls_commit_and_a_failing_one_is_logged_alone(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    store = Store(tmp_path / "g.db")
    store.start()

    def bad(db: Database) -> None:
        bump(db, "catalog")
        raise ValueError("bad bookkeeping")

    for _ in range(10):
        store.submit(bump, "catalog")
    store.submit(bad)
    store.submit(bump, "catalog")
    assert (await store.run_quick(revisions))["catalog"] == 11  # submitted before this call: the same turn, in order
    assert "bad failed: bad bookkeeping" in caplog.text
    await store.close()
    reopened = open_db(tmp_path / "g.db")
    assert revisions(reopened)["catalog"] == 11  # on disk, not just in the writer's transaction
    reopened.close()


async def test_the_wal_is_checkpointed_while_the_store_runs(tmp_path: Path) -> None:
    """The writer never checkpoints itself; the checkpointer thread copies the WAL into the file within seconds."""
    path = tmp_path / "g.db"
    store = Store(path)
    store.start()
    before = path.stat().st_size

    def write(db: Database, n: int) -> None:
        db.execute("INSERT INTO meta(key, value) VALUES (?, ?)", [f"k{n}", "数据" * 300])

    await asyncio.gather(*[store.run(write, n) for n in range(300)])
    for _ in range(100):  # up to 5 s; the checkpointer runs every second
        if path.stat().st_size > before + 100_000:
            break
        await asyncio.sleep(0.05)
    assert path.stat().st_size > before + 100_000  # the rows are in the database file, not only in the WAL
    await store.close()
    reopened = open_db(path)
    assert reopened.execute("SELECT COUNT(*) FROM meta WHERE key LIKE 'k%'").fetchone()[0] == 300
    reopened.close()


def test_m006_keeps_only_answers_still_to_post(tmp_path: Path) -> None:
    """Before m006 every posted answer stayed in `replies` with its text; after it, only pending or failed ones."""
    import sqlite3

    from store.migrations import migrations

    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(str(path), isolation_level=None))
    migrations.apply(db, stop_before="m006_replies_pending_only")
    for event_id, status in (("e1", "sent"), ("e2", "queued"), ("e3", "dead")):
        db.execute("INSERT INTO replies (platform, event_id, bot, event, text, status, created_at)"
                   " VALUES ('dingtalk', ?, 'dt', '{}', '答复', ?, '2026-11-27T10:00:00+08:00')", [event_id, status])
    db.close()
    db = open_db(path)  # what a gateway of this version does on start
    assert [(r["event_id"], r["status"]) for r in db.query("SELECT * FROM replies ORDER BY event_id")] == [
        ("e2", "queued"), ("e3", "dead")]
    assert "text" not in db["replies"].columns_dict and "replies_status" not in {i.name for i in db["replies"].indexes}
    db.close()


def test_m013_drops_the_event_of_answers_that_will_never_be_posted(tmp_path: Path) -> None:
    """A failed, dead or expired answer kept the asker's platform ids in its event; a queued one still needs it."""
    import sqlite3

    from store.migrations import migrations

    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(str(path), isolation_level=None))
    migrations.apply(db, stop_before="m013_scrub_final_replies")
    event = '{"sender":"ou_user1","handle":{"message_id":"om_1"}}'
    for event_id, status in (("e1", "queued"), ("e2", "failed"), ("e3", "dead"), ("e4", "expired")):
        db.execute("INSERT INTO replies (platform, event_id, bot, event, status, created_at)"
                   " VALUES ('feishu', ?, 'fs', ?, ?, '2026-11-27T10:00:00+08:00')", [event_id, event, status])
    db.close()
    db = open_db(path)
    assert [(r["event_id"], r["event"]) for r in db.query("SELECT * FROM replies ORDER BY event_id")] == [
        ("e1", event), ("e2", "{}"), ("e3", "{}"), ("e4", "{}")]
    db.close()


def test_m015_keeps_the_codes_of_notices_sent_before_it(tmp_path: Path) -> None:
    """Codes printed in notices already sent stay valid; keyed codes start with the next notice."""
    import sqlite3

    from scheduler import notices
    from store.migrations import migrations

    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(str(path), isolation_level=None))
    migrations.apply(db, stop_before="m015_keyed_ack_codes")
    for _ in range(4):
        db.execute("INSERT INTO notices (kind, title, body, audience, status, author, created_at, updated_at)"
                   " VALUES ('通知公告', 't', 'b', '*', 'done', 'a', '2026-11-01', '2026-11-01')")
    db.close()
    db = open_db(path)
    assert get_meta(db, notices.ACK_KEYED_FROM) == "5"
    db.close()
    fresh = open_db(tmp_path / "new.db")
    assert get_meta(fresh, notices.ACK_KEYED_FROM) == "1"  # a new installation keys every code
    fresh.close()


def test_m008_dates_answers_given_before_it_by_their_last_change(tmp_path: Path) -> None:
    """The annual report counts an answer in the year it was concluded; requests answered before m008 recorded
    that day only as their last change."""
    import sqlite3

    from store.migrations import migrations

    path = tmp_path / "old.db"
    db = Database(sqlite3.connect(str(path), isolation_level=None))
    migrations.apply(db, stop_before="m008_request_steps")
    for number, status, updated in (("2025-0001", "answered", "2025-12-30T16:00:00+08:00"),
                                    ("2025-0002", "accepted", "2025-12-29T09:00:00+08:00")):
        db.execute("INSERT INTO requests (id, year, seq, status, created_at, updated_at, question, question_key, sender,"
                   " channel, bot, chat, received_on, reply_due, due_estimated, outcome, note)"
                   " VALUES (?, 2025, ?, ?, ?, ?, '问', '问', 's', 'webhook', 'b', 'c', '2025-12-01', '', 0, '', '')",
                   [number, int(number[-1]), status, updated, updated])
    db.close()
    db = open_db(path)
    rows = {r["id"]: r for r in db.query("SELECT * FROM requests")}
    assert (rows["2025-0001"]["concluded_on"], rows["2025-0002"]["concluded_on"]) == ("2025-12-30", "")
    assert rows["2025-0001"]["applicant_type"] == "" and rows["2025-0002"]["paused_days"] == 0
    db.close()


def test_m012_a_follow_up_finds_the_last_question_by_index_not_by_scanning_the_log(tmp_path: Path) -> None:
    from handlers.enquiry import PREVIOUS_QUESTIONS

    db = open_db(tmp_path / "g.db")
    plan = " ".join(row[-1] for row in db.execute("EXPLAIN QUERY PLAN " + PREVIOUS_QUESTIONS, ["", "", "", "", ""]))
    assert "USING INDEX idx_enquiries_sender_at" in plan
    assert "SCAN enquiries" not in plan
