"""From an inbound chat message to a reply: dedupe, route to a command or an enquiry, log.

`handle_inbound(db, ctx, event)` is a plain function run on the store's writer thread (one transaction):
a repeated event returns the stored reply and writes nothing; otherwise the first handler that returns a
Reply wins and the message gets its row in the enquiry log, which also answers a repeated delivery.
"""

from __future__ import annotations

import hashlib
import secrets
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from sqlite_utils import Database

import clock
from knowledge import Answer, Knowledge
from platforms import Inbound
from store import dumps, get_meta, insert_row, loads, set_meta

__all__ = ["Context", "Reply", "Handler", "handle_inbound", "log_enquiry", "pseudonym", "installation_salt"]


_ANSWER_CACHE = 2048  # questions; a group chat asks the same few things over and over


@dataclass
class Context:
    """What handlers need besides the database; `use_catalog` swaps in a new index when the catalog changes."""

    knowledge: Knowledge
    salt: bytes  # per-installation key for sender pseudonyms
    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # catalog items by id, for summaries
    top_k: int = 3
    now: Callable[[], datetime] = clock.now
    _answers: tuple[Knowledge, OrderedDict[tuple[str, int, date], Answer]] | None = field(default=None, repr=False)

    def use_catalog(self, knowledge: Knowledge, items: list[dict[str, Any]]) -> None:
        self.items = {item["id"]: item for item in items}
        self.knowledge = knowledge

    def search(self, question: str) -> Answer:
        """knowledge.search, remembered per index: the cache goes with the index it was computed on."""
        knowledge = self.knowledge
        if self._answers is None or self._answers[0] is not knowledge:
            self._answers = (knowledge, OrderedDict())
        cache = self._answers[1]
        key = (question, self.top_k, self.now().date())
        answer = cache.get(key)
        if answer is None:
            answer = cache[key] = knowledge.search(question, top_k=self.top_k, today=key[2])
            if len(cache) > _ANSWER_CACHE:
                cache.popitem(last=False)
        return answer


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    kind: str = "enquiry"  # enquiry | complaint | command
    answered: bool = False
    request_id: str | None = None
    matches: list[dict[str, Any]] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"text": self.text, "kind": self.kind, "answered": self.answered,
                "request_id": self.request_id, "matches": self.matches}


Handler = Callable[[Database, Context, Inbound], "Reply | None"]


def pseudonym(salt: bytes, platform: str, sender: str) -> str:
    """A stable, non-reversible sender id: the same person links up, the log never holds the raw id."""
    if not sender:
        return ""
    return hashlib.blake2b(f"{platform}:{sender}".encode(), key=salt[:64], digest_size=8).hexdigest()


def installation_salt(db: Database) -> bytes:
    """The pseudonym key, made once per database and never shown."""
    salt = get_meta(db, "pseudonym_salt")
    if salt is None:
        salt = secrets.token_hex(32)
        set_meta(db, "pseudonym_salt", salt)
    return bytes.fromhex(salt)


def _handlers() -> list[Handler]:
    from handlers import commands, enquiry, notice_commands

    return [commands.handle, notice_commands.handle, enquiry.handle]


def handle_inbound(db: Database, ctx: Context, event: Inbound, deferred: bool = False) -> tuple[Reply, bool]:
    """(reply, duplicate). Runs inside the caller's transaction; a duplicate writes nothing.

    Every message, command or question, is one row of the enquiry log, keyed by the platform's event id, so a
    repeated delivery gets the stored answer. `deferred`: the answer is posted later (not in the HTTP
    response), so it is queued in `replies` in the same transaction and survives a crash before posting."""
    row = db.execute("SELECT reply, kind, answered, request_id, matches FROM enquiries"
                     " WHERE channel = ? AND event_id = ?", [event.platform, event.event_id]).fetchone()
    if row is not None:
        return Reply(text=row[0], kind=row[1], answered=bool(row[2]), request_id=row[3] or None,
                     matches=loads(row[4], [])), True
    reply = next(r for r in (h(db, ctx, event) for h in _handlers()) if r is not None)
    at = clock.iso(ctx.now())
    log_enquiry(db, ctx, event, reply, at)
    if deferred:
        insert_row(db, "replies", {"platform": event.platform, "event_id": event.event_id, "bot": event.bot,
                                   "event": dumps(asdict(event)), "text": reply.text, "status": "queued",
                                   "created_at": at})
    return reply, False


def log_enquiry(db: Database, ctx: Context, event: Inbound, reply: Reply, at: str) -> int:
    """One row per message: who (pseudonym), where, what, what we matched and answered."""
    return insert_row(db, "enquiries", {
        "at": at, "channel": event.platform, "event_id": event.event_id, "bot": event.bot, "chat": event.chat,
        "sender": pseudonym(ctx.salt, event.platform, event.sender), "question": event.text,
        "matches": dumps(reply.matches), "answered": int(reply.answered), "kind": reply.kind,
        "request_id": reply.request_id or "", "reply": reply.text,
    })
