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
    db["inbound"].create(
        {"platform": str, "event_id": str, "bot": str, "received_at": str, "reply": str},
        pk=("platform", "event_id"),
    )
    db["enquiries"].create(
        {
            "id": int,
            "at": str,
            "channel": str,  # platform name
            "bot": str,
            "chat": str,
            "sender": str,  # pseudonym, never the platform's user id
            "question": str,
            "matches": str,  # JSON [{id,title,score}]
            "answered": int,
            "kind": str,  # enquiry | complaint | command
            "request_id": str,
            "reply": str,
        },
        pk="id",
    )
    db["enquiries"].create_index(["at"])
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
            "enquiry_id": int,
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
