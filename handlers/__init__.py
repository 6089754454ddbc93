"""From an inbound chat message to a reply: dedupe, route to a command or an enquiry, log.

`handle_inbound(db, ctx, event)` is a plain function the store runs in one transaction (`Store.run_quick`):
a repeated event returns the stored reply and writes nothing; otherwise the first handler that returns a
Reply wins and the message gets its row in the enquiry log, which also answers a repeated delivery.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, TypeVar

from sqlite_utils import Database

import clock
from config.settings import RemindersConfig
from knowledge import Answer, Knowledge
from knowledge.lexicon import READ_LIMIT
from platforms import Inbound
from store import dumps, insert_row, loads, meta_secret

__all__ = ["Context", "Reply", "Handler", "handle_inbound", "log_enquiry", "pseudonym", "installation_salt"]

T = TypeVar("T")


_MEMO_SIZE = 4096  # entries; a group chat asks the same few things over and over


@dataclass
class Context:
    """What handlers need besides the database; `use_catalog` swaps in a new index when the catalog changes."""

    knowledge: Knowledge
    salt: bytes  # per-installation key for sender pseudonyms
    items: dict[str, dict[str, Any]] = field(default_factory=dict)  # catalog items by id, for summaries
    top_k: int = 3
    reminders: RemindersConfig = field(default_factory=RemindersConfig)  # `to`: the groups where 待办 is answered
    now: Callable[[], datetime] = clock.now
    _memo: tuple[Knowledge, OrderedDict[Hashable, Any]] | None = field(default=None, repr=False)

    def use_catalog(self, knowledge: Knowledge, items: list[dict[str, Any]]) -> None:
        self.items = {item["id"]: item for item in items}
        self.knowledge = knowledge

    def memo(self, key: Hashable, compute: Callable[[], T]) -> T:
        """`compute()`, remembered per catalog index (a new index starts afresh), least recently used out.
        Only for values that depend on nothing but the key and the catalog; callers must not mutate them."""
        knowledge = self.knowledge
        if self._memo is None or self._memo[0] is not knowledge:
            self._memo = (knowledge, OrderedDict())
        cache = self._memo[1]
        try:
            cache.move_to_end(key)
            return cache[key]  # type: ignore[no-any-return]
        except KeyError:
            value = cache[key] = compute()
            if len(cache) > _MEMO_SIZE:
                cache.popitem(last=False)
            return value

    def search(self, question: str, today: date | None = None) -> Answer:
        """knowledge.search, remembered: the same question on the same day against the same index."""
        day = today or self.now().date()
        return self.memo(("search", question, self.top_k, day),
                         lambda: self.knowledge.search(question, top_k=self.top_k, today=day))


@dataclass(frozen=True, slots=True)
class Reply:
    text: str
    kind: str = "enquiry"  # enquiry | complaint | command | feedback
    answered: bool = False
    request_id: str | None = None
    matches: list[dict[str, Any]] = field(default_factory=list)
    matches_json: str = ""  # `matches` as stored in the enquiry log; computed once when not given

    def __post_init__(self) -> None:
        if not self.matches_json:
            object.__setattr__(self, "matches_json", dumps(self.matches))

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
    return meta_secret(db, "pseudonym_salt")


_HANDLERS: list[Handler] = []


def _handlers() -> list[Handler]:
    """In order; the first to return a Reply wins. Imported late: the handler modules import this one."""
    if not _HANDLERS:
        from handlers import commands, enquiry, feedback, notice_commands, notice_questions, small_talk, staff

        _HANDLERS.extend([commands.handle, staff.handle, small_talk.handle, notice_commands.handle,
                          notice_questions.handle, feedback.handle, enquiry.handle])
    return _HANDLERS


def handle_inbound(db: Database, ctx: Context, event: Inbound, deferred: bool = False) -> tuple[Reply, bool]:
    """(reply, duplicate). Runs inside the caller's transaction; a duplicate writes nothing.

    Every message, command or question, is one row of the enquiry log, keyed by the platform's event id, so a
    repeated delivery gets the stored answer. `deferred`: the answer is posted later (not in the HTTP
    response), so it is queued in `replies` in the same transaction and survives a crash before posting."""
    row = db.execute("SELECT reply, kind, answered, request_id, matches FROM enquiries"
                     " WHERE channel = ? AND event_id = ?", [event.platform, event.event_id]).fetchone()
    if row is not None:
        return Reply(text=row[0], kind=row[1], answered=bool(row[2]), request_id=row[3] or None,
                     matches=loads(row[4], []), matches_json=row[4] or "[]"), True
    # A message longer than the bot reads is no command, greeting or acknowledgement: only the last handler, the
    # enquiry, looks at it (at its first READ_LIMIT characters); the log below keeps all of it.
    chain = _handlers() if len(event.text) <= READ_LIMIT else _handlers()[-1:]
    reply = next(r for r in (handler(db, ctx, event) for handler in chain) if r is not None)
    at = clock.iso(ctx.now())
    log_enquiry(db, ctx, event, reply, at)
    if deferred:
        insert_row(db, "replies", {"platform": event.platform, "event_id": event.event_id, "bot": event.bot,
                                   "event": event.to_json(), "status": "queued", "created_at": at})
    return reply, False


def log_enquiry(db: Database, ctx: Context, event: Inbound, reply: Reply, at: str) -> int:
    """One row per message: who (pseudonym), where, what, what we matched and answered."""
    return insert_row(db, "enquiries", {
        "at": at, "channel": event.platform, "event_id": event.event_id, "bot": event.bot, "chat": event.chat,
        "sender": pseudonym(ctx.salt, event.platform, event.sender), "question": event.text,
        "matches": reply.matches_json, "answered": int(reply.answered), "kind": reply.kind,
        "request_id": reply.request_id or "", "reply": reply.text,
    })
