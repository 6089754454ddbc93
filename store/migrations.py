"""Schema history. Add a function at the end; never edit one that has shipped."""

from __future__ import annotations

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

__all__ = ["migrations"]

migrations = Migrations("gongkai")


@migrations()
def m001_initial(db: Database) -> None:
    db["meta"].create({"key": str, "value": str}, pk="key")
    db["catalog"].create(
        {
            "id": str,
            "title": str,
            "category": str,
            "published": str,  # ISO date, may be ""
            "url": str,
            "keywords": str,  # JSON list
            "body": str,
            "index_no": str,  # 索引号
            "doc_no": str,  # 文号
            "publisher": str,  # 发布机构
            "validity": str,  # 有效性
            "demo": int,
            "updated_at": str,
        },
        pk="id",
    )
    db["enquiries"].create(
        {
            "id": int,
            "at": str,
            "channel": str,  # platform name
            "event_id": str,  # the platform's event id: a repeated delivery is answered from this row
            "bot": str,
            "chat": str,
            "sender": str,  # pseudonym, never the platform's user id
            "question": str,
            "matches": str,  # JSON [{id,title,category,url,score}]
            "answered": int,
            "kind": str,  # enquiry | complaint | command
            "request_id": str,
            "reply": str,
        },
        pk="id",
    )
    db["enquiries"].create_index(["at"])
    db["enquiries"].create_index(["channel", "event_id"], unique=True)
    db["requests"].create(
        {
            "id": str,  # YYYY-NNNN
            "year": int,
            "seq": int,
            "status": str,
            "created_at": str,
            "updated_at": str,
            "question": str,
            "question_key": str,  # normalised question, for same-day dedupe
            "sender": str,
            "channel": str,
            "bot": str,
            "chat": str,
            "received_on": str,  # 收到日 confirmed by staff; the statutory clock starts here
            "reply_due": str,
            "due_estimated": int,
            "outcome": str,
            "note": str,
        },
        pk="id",
    )
    db["requests"].create_index(["year", "seq"], unique=True)
    db["requests"].create_index(["sender", "question_key"])
    db["request_events"].create({"id": int, "request_id": str, "at": str, "change": str}, pk="id")
    db["request_events"].create_index(["request_id"])
    db["groups"].create(
        {
            "name": str,
            "bot": str,
            "chat": str,
            "tags": str,  # JSON list
            "subscriptions": str,  # JSON list of notice categories; [] = all
            "source": str,  # config | staff
            "created_at": str,
        },
        pk="name",
    )


@migrations()
def m002_workdays(db: Database) -> None:
    db.execute(
        "CREATE TABLE workday_overrides ("
        " day TEXT PRIMARY KEY,"  # YYYY-MM-DD
        " kind TEXT NOT NULL CHECK (kind IN ('work', 'rest')),"  # staff decision beats the library
        " note TEXT NOT NULL DEFAULT '',"
        " created_at TEXT NOT NULL)"
    )


@migrations()
def m003_notices(db: Database) -> None:
    """Notices, their review trail, send times, one delivery row per (send, group, part), acks, registrations."""
    db.execute(
        "CREATE TABLE notices ("
        " id INTEGER PRIMARY KEY, kind TEXT NOT NULL, title TEXT NOT NULL, body TEXT NOT NULL,"
        " fields TEXT NOT NULL DEFAULT '{}', audience TEXT NOT NULL, status TEXT NOT NULL,"
        " author TEXT NOT NULL, approver TEXT NOT NULL DEFAULT '', approved_hash TEXT NOT NULL DEFAULT '',"
        " override_reason TEXT NOT NULL DEFAULT '', findings TEXT NOT NULL DEFAULT '[]',"
        " cron TEXT NOT NULL DEFAULT '', cron_from TEXT NOT NULL DEFAULT '',"
        " created_at TEXT NOT NULL, updated_at TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE notice_audit (id INTEGER PRIMARY KEY, notice_id INTEGER NOT NULL, at TEXT NOT NULL,"
        " who TEXT NOT NULL, action TEXT NOT NULL, detail TEXT NOT NULL DEFAULT '')"
    )
    db.execute("CREATE INDEX notice_audit_notice ON notice_audit(notice_id)")
    db.execute(
        "CREATE TABLE sends (notice_id INTEGER NOT NULL, n INTEGER NOT NULL, kind TEXT NOT NULL,"
        " due_at TEXT NOT NULL, status TEXT NOT NULL, late INTEGER NOT NULL DEFAULT 0,"
        " fired_at TEXT NOT NULL DEFAULT '', PRIMARY KEY (notice_id, n))"
    )
    # a cron round fired twice (restart, two processes) stays one row; a cancelled time may be planned again
    db.execute("CREATE UNIQUE INDEX sends_due ON sends(notice_id, kind, due_at) WHERE status != 'cancelled'")
    db.execute(
        "CREATE TABLE deliveries (id INTEGER PRIMARY KEY, notice_id INTEGER NOT NULL, send_n INTEGER NOT NULL,"
        " grp TEXT NOT NULL, part INTEGER NOT NULL, bot TEXT NOT NULL, chat TEXT NOT NULL, platform TEXT NOT NULL,"
        " body TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
        " next_at TEXT NOT NULL, lease_until TEXT NOT NULL DEFAULT '', error TEXT NOT NULL DEFAULT '',"
        " code TEXT NOT NULL DEFAULT '', sent_at TEXT NOT NULL DEFAULT '', updated_at TEXT NOT NULL,"
        " UNIQUE (notice_id, send_n, grp, part))"
    )
    db.execute("CREATE INDEX deliveries_due ON deliveries(status, bot, next_at)")
    db.execute("CREATE INDEX deliveries_notice ON deliveries(notice_id, status)")
    db.execute(
        "CREATE TABLE notice_acks (notice_id INTEGER NOT NULL, grp TEXT NOT NULL, at TEXT NOT NULL,"
        " text TEXT NOT NULL, sender TEXT NOT NULL DEFAULT '', PRIMARY KEY (notice_id, grp))"
    )
    db.execute(
        "CREATE TABLE registrations (id INTEGER PRIMARY KEY, notice_id INTEGER NOT NULL, grp TEXT NOT NULL,"
        " name TEXT NOT NULL, org TEXT NOT NULL, sender TEXT NOT NULL DEFAULT '', at TEXT NOT NULL,"
        " UNIQUE (notice_id, name, org))"
    )


@migrations()
def m004_replies(db: Database) -> None:
    # A deferred chat answer (sessionWebhook, response_url, reply API) is a row before it is posted, so a
    # crash between answering and posting leaves it queued and the next start posts it.
    db.execute(
        "CREATE TABLE replies (platform TEXT NOT NULL, event_id TEXT NOT NULL, bot TEXT NOT NULL,"
        " event TEXT NOT NULL, text TEXT NOT NULL, status TEXT NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
        " error TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL, PRIMARY KEY (platform, event_id))"
    )
    db.execute("CREATE INDEX replies_status ON replies(status, created_at)")


@migrations()
def m005_request_lookup(db: Database) -> None:
    # "Has this sender asked this within a day?" runs on every unanswered question: with created_at in the
    # index it is one seek, not a scan and sort of every request the sender ever made with these words.
    db.execute("DROP INDEX IF EXISTS idx_requests_sender_question_key")
    db.execute("CREATE INDEX idx_requests_sender_question_at ON requests(sender, question_key, created_at)")


@migrations()
def m006_replies_pending_only(db: Database) -> None:
    # A posted answer leaves the queue: the table holds only what is still to post or failed (with its error),
    # so the start-up scan needs no index, and a used sessionWebhook / response_url is not kept for ever. The
    # answer's text is the enquiry row's `reply`; it is not written twice.
    db.execute("DELETE FROM replies WHERE status = 'sent'")
    db.execute("DROP INDEX IF EXISTS replies_status")
    db["replies"].transform(drop={"text"})  # a table rebuild: ALTER TABLE DROP COLUMN needs SQLite 3.35


@migrations()
def m007_request_extension(db: Database) -> None:
    # 条例 art.33: the reply period may be extended once, by up to 20 working days, with notice to the applicant.
    db.execute("ALTER TABLE requests ADD COLUMN extended INTEGER NOT NULL DEFAULT 0")


@migrations()
def m008_request_steps(db: Database) -> None:
    # The steps of 条例 arts. 30-34 and what the annual report (table 三) counts: the applicant's type, the one
    # 补正 notice and the day the correction arrived (the clock restarts then), pauses for consulting third
    # parties or other agencies (not counted in the period), and the day the request was concluded.
    for column in ("applicant_type", "correction_asked_on", "corrected_on", "paused_on", "resumed_on", "concluded_on"):
        db.execute(f"ALTER TABLE requests ADD COLUMN {column} TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE requests ADD COLUMN paused_days INTEGER NOT NULL DEFAULT 0")
    # Answered before this column: the answer was the request's last change.
    db.execute("UPDATE requests SET concluded_on = substr(updated_at, 1, 10) WHERE status = 'answered'")


@migrations()
def m009_correction_due(db: Database) -> None:
    # art.30: the 补正 notice sets a reasonable period (`correction_days` working days, so a calendar change can
    # recount it); past its end the request may be closed as 逾期不补正. While correcting there is no reply
    # date, and `due_estimated` marks the correction's end instead. Notices sent before these columns have
    # no period recorded, and nothing stops closing them.
    db.execute("ALTER TABLE requests ADD COLUMN correction_due TEXT NOT NULL DEFAULT ''")
    db.execute("ALTER TABLE requests ADD COLUMN correction_days INTEGER NOT NULL DEFAULT 0")


@migrations()
def m010_request_appeals(db: Database) -> None:
    # Table 四 of the annual report: an applicant's 行政复议 or 行政诉讼 over a request, filed and then decided.
    # One of each kind per request: a reconsideration, a lawsuit filed directly, a lawsuit after reconsideration.
    db.execute(
        "CREATE TABLE request_appeals (request_id TEXT NOT NULL, kind TEXT NOT NULL, filed_on TEXT NOT NULL,"
        " result TEXT NOT NULL DEFAULT '', decided_on TEXT NOT NULL DEFAULT '', created_at TEXT NOT NULL,"
        " updated_at TEXT NOT NULL, PRIMARY KEY (request_id, kind))"
    )


@migrations()
def m011_catalog_repealed(db: Database) -> None:
    # Table 二 of the annual report counts 规范性文件 repealed in the year and in force at its end: the day an
    # item was repealed (废止日期), where the catalog has one.
    db.execute("ALTER TABLE catalog ADD COLUMN repealed TEXT NOT NULL DEFAULT ''")


@migrations()
def m012_enquiry_follow_up_lookup(db: Database) -> None:
    # A follow-up (那药店呢) reads the asker's last question: without this index that was a scan of the whole
    # enquiry log on the event loop, one more row for every message the bureau ever received.
    db.execute("CREATE INDEX idx_enquiries_sender_at ON enquiries(sender, at)")


@migrations()
def m013_scrub_final_replies(db: Database) -> None:
    # A queued answer keeps the event (the sender's platform id, the reply handle) only until it is final: an
    # answer that failed, died or expired is never posted again, and the log holds only pseudonyms.
    db.execute("UPDATE replies SET event = '{}' WHERE status != 'queued'")


@migrations()
def m014_delivery_timed_out(db: Database) -> None:
    # A post that timed out may have arrived all the same: once any try of a part has timed out, its later
    # success is marked (the group may have two), whatever failures came in between.
    db.execute("ALTER TABLE deliveries ADD COLUMN timed_out INTEGER NOT NULL DEFAULT 0")
    db.execute("UPDATE deliveries SET timed_out = 1 WHERE code = 'timeout'")


@migrations()
def m015_keyed_ack_codes(db: Database) -> None:
    # Confirmation codes were a plain hash of notice number and group name, which anyone can compute. From the
    # next notice on they are keyed with a secret of this installation; codes already sent keep working.
    db.execute("INSERT INTO meta(key, value) SELECT 'ack_code_keyed_from', COALESCE(MAX(id), 0) + 1 FROM notices")
