"""Notice lifecycle and review (先审后发): draft → submitted → approved → scheduled → sending → done.

A second person approves; sensitive findings block approval unless overridden with a logged reason; approval
freezes a content hash and any edit voids it. Every step is a row in `notice_audit` (who, when, what).
"""

from __future__ import annotations

import difflib
import hashlib
import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from sqlite_utils import Database

import clock
from errors import ConfigError, InvalidInput, NotFound
from platforms import REGISTRY, Message, Platform, platform_class
from scheduler import groups, scan, templates
from store import bump, dumps, get_meta, loads, meta_secret

__all__ = [
    "EDITABLE",
    "ack_code",
    "acknowledge_code",
    "record_ack",
    "content_hash",
    "create_notice",
    "get_notice",
    "list_notices",
    "submit",
    "approve",
    "reject",
    "edit",
    "cancel",
    "audit",
    "audit_log",
    "set_status",
    "preview",
    "dry_run",
    "message_for",
]

EDITABLE = ("draft", "submitted", "approved", "scheduled", "rejected")
ACK_KEYED_FROM = "ack_code_keyed_from"  # meta: the first notice whose codes are keyed (m015)
STATUS_TEXT = {"draft": "草稿", "submitted": "待审核", "approved": "已审核", "scheduled": "已排期", "sending": "发送中",
               "done": "已发送", "partly_failed": "部分失败", "rejected": "已退回", "cancelled": "已撤销",
               "missed": "已错过"}


def _now() -> str:
    return clock.iso(clock.now())


def content_hash(notice: Mapping[str, Any]) -> str:
    """What approval vouches for: kind, title, body, fields, audience."""
    data = [notice["kind"], notice["title"], notice["body"], dict(sorted((notice["fields"] or {}).items())),
            notice["audience"]]
    return hashlib.sha256(dumps(data).encode()).hexdigest()


def audit(db: Database, notice_id: int, who: str, action: str, detail: str = "") -> None:
    db["notice_audit"].insert({"notice_id": notice_id, "at": _now(), "who": who, "action": action,
                               "detail": detail})


def audit_log(db: Database, notice_id: int) -> list[dict[str, Any]]:
    return list(db.query("SELECT at, who, action, detail FROM notice_audit WHERE notice_id = ? ORDER BY id",
                         [notice_id]))


def _clean(row: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(row)
    out["fields"] = loads(out["fields"], {})
    out["findings"] = loads(out["findings"], [])
    out["status_text"] = STATUS_TEXT.get(out["status"], out["status"])
    return out


def get_notice(db: Database, notice_id: int | str) -> dict[str, Any]:
    try:
        key = int(notice_id)
    except (TypeError, ValueError):
        raise InvalidInput(f"通知编号应为数字：{notice_id!r}") from None
    rows = list(db.query("SELECT * FROM notices WHERE id = ?", [key])) if 0 < key < 2**63 else []  # SQLite's range
    if not rows:
        raise NotFound(f"没有编号为 {key} 的通知")
    return _clean(rows[0])


def list_notices(db: Database, reminders: bool = False) -> list[dict[str, Any]]:
    """Newest first; the daily 办理提醒 only with `reminders` (one a working day would bury the rest)."""
    rows = db.query("SELECT id, kind, title, audience, status, author, approver, created_at, updated_at"
                    " FROM notices" + ("" if reminders else " WHERE kind != ?") + " ORDER BY id DESC",
                    [] if reminders else [templates.REMINDER_KIND])
    return [{**r, "status_text": _status_text(db, r)} for r in rows]


def _status_text(db: Database, notice: Mapping[str, Any]) -> str:
    """部分失败, unless no group got it at all."""
    if notice["status"] == "partly_failed" and not db.execute(
            "SELECT 1 FROM deliveries WHERE notice_id = ? AND status = 'sent' LIMIT 1", [notice["id"]]).fetchone():
        return "全部未送达"
    return STATUS_TEXT.get(notice["status"], notice["status"])


_INVISIBLE = re.compile("[\u200b-\u200d\u2060\ufeff]")  # zero-width characters: 张三\u200b is still 张三


def _need_user(by: str) -> str:
    name = _INVISIBLE.sub("", unicodedata.normalize("NFKC", by or "")).strip()
    if not name:
        raise InvalidInput("必须用 --by 指明操作人")
    return name


def _writers(db: Database, notice_id: int) -> set[str]:
    """Everyone who wrote, changed or submitted the text, compared case-insensitively (Alice is alice)."""
    rows = db.execute("SELECT who FROM notice_audit WHERE notice_id = ? AND action IN ('create', 'edit', 'submit')",
                      [notice_id]).fetchall()
    return {_need_user(row[0]).casefold() for row in rows if row[0].strip()}


_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")  # tabs and line breaks are text, these are not
_TITLE_MAX = 100  # characters: some platforms repeat the title in every part of a long notice


def _check_text(title: str, body: str) -> None:
    for name, text in (("标题", title), ("正文", body)):
        if not _INVISIBLE.sub("", text).strip():
            raise InvalidInput(f"{name}不能为空")
        bad = _CONTROL.search(text)
        if bad:
            raise InvalidInput(f"{name}含控制字符 {bad.group()!r}（第 {bad.start() + 1} 个字符），请删除后再保存")
    if "\n" in title.strip() or len(title.strip()) > _TITLE_MAX:
        raise InvalidInput(f"标题应为一行、不超过 {_TITLE_MAX} 字（现为 {len(title.strip())} 字）")


def create_notice(db: Database, kind: str, title: str, body: str, to: str, fields: Mapping[str, str],
                  by: str) -> dict[str, Any]:
    """A draft: checked (kind, fields, target expression) but not yet reviewed."""
    by = _need_user(by)
    fields = templates.check_fields(kind, fields)
    groups.parse_expr(to)
    _check_text(title, body)
    now = _now()
    row = {"kind": kind, "title": title.strip(), "body": body, "fields": dumps(fields), "audience": to.strip(),
           "status": "draft", "author": by, "created_at": now, "updated_at": now}
    notice_id = int(db["notices"].insert(row).last_pk)  # type: ignore[arg-type]
    audit(db, notice_id, by, "create", f"{kind}：{title.strip()}")
    bump(db, "notices")
    return get_notice(db, notice_id)


def set_status(db: Database, notice_id: int, status: str, **extra: Any) -> None:
    values = {"status": status, "updated_at": _now(), **extra}
    db["notices"].update(notice_id, values)
    bump(db, "notices")


def _expect(notice: Mapping[str, Any], allowed: tuple[str, ...], action: str) -> None:
    if notice["status"] not in allowed:
        now = STATUS_TEXT.get(notice["status"], notice["status"])
        need = "、".join(STATUS_TEXT[s] for s in allowed)
        raise InvalidInput(f"通知 {notice['id']} 当前为“{now}”，不能{action}（需为：{need}）")


def delivered_groups(db: Database, notice_id: int) -> int:
    """Groups that have (or may have: sending, uncertain) received the notice already."""
    row = db.execute("SELECT COUNT(DISTINCT grp) FROM deliveries WHERE notice_id = ?"
                     " AND status IN ('sent', 'sending', 'uncertain')", [notice_id]).fetchone()
    return int(row[0])


def _expect_unsent(db: Database, notice: Mapping[str, Any], action: str) -> None:
    """What groups have read cannot be changed under them: a correction is a notice of its own."""
    sent = delivered_groups(db, notice["id"])
    if sent:
        raise InvalidInput(f"通知 {notice['id']} 已发送到 {sent} 个群，不能{action}；如需更正，请另建一条更正通知")


def submit(db: Database, notice_id: int | str, by: str) -> dict[str, Any]:
    """Send a draft for review; the sensitive scan runs now so the reviewer sees its findings."""
    by, notice = _need_user(by), get_notice(db, notice_id)
    _expect(notice, ("draft", "rejected"), "提交审核")
    text = "\n".join([notice["title"], notice["body"], *notice["fields"].values()])
    findings = scan.scan(text)
    set_status(db, notice["id"], "submitted", findings=dumps(findings), approver="", approved_hash="",
               override_reason="")
    detail = "；".join(f"{f['label']} {f['value']}" for f in findings) or "敏感内容检查：未发现"
    audit(db, notice["id"], by, "submit", detail)
    return get_notice(db, notice["id"])


def approve(db: Database, notice_id: int | str, by: str, override: str | None = None) -> dict[str, Any]:
    """Second-person approval; freezes the content hash that release checks again."""
    by, notice = _need_user(by), get_notice(db, notice_id)
    _expect(notice, ("submitted",), "审核通过")
    if by.casefold() in _writers(db, notice["id"]) | {notice["author"].casefold()}:
        raise InvalidInput(f"不能审核自己起草、修改或提交的通知（{by}）；请由另一名工作人员审核")
    reason = (override or "").strip()
    if notice["findings"] and not reason:
        found = "；".join(f"{f['label']} {f['value']}" for f in notice["findings"])
        raise InvalidInput(f"通知 {notice['id']} 含敏感内容（{found}），请修改后重新提交，"
                           "或使用 --override \"理由\" 确认放行")
    set_status(db, notice["id"], "approved", approver=by, approved_hash=content_hash(notice),
               override_reason=reason)
    if notice["findings"] and reason:
        audit(db, notice["id"], by, "override", reason)
    audit(db, notice["id"], by, "approve", content_hash(notice)[:12])
    return get_notice(db, notice["id"])


def reject(db: Database, notice_id: int | str, by: str, reason: str) -> dict[str, Any]:
    by, notice = _need_user(by), get_notice(db, notice_id)
    _expect(notice, ("submitted", "approved"), "退回")
    if not (reason or "").strip():
        raise InvalidInput("退回必须用 --reason 写明理由")
    set_status(db, notice["id"], "rejected", approver="", approved_hash="")
    audit(db, notice["id"], by, "reject", reason.strip())
    return get_notice(db, notice["id"])


def _cancel_sends(db: Database, notice_id: int) -> int:
    cur = db.execute("UPDATE sends SET status = 'cancelled' WHERE notice_id = ? AND status = 'pending'",
                     [notice_id])
    db.execute("UPDATE notices SET cron = '', cron_from = '' WHERE id = ?", [notice_id])
    return cur.rowcount


def edit(db: Database, notice_id: int | str, by: str, title: str | None = None, body: str | None = None,
         fields: Mapping[str, str] | None = None, to: str | None = None) -> dict[str, Any]:
    """Change the content; anything already reviewed goes back to draft and its approval is void."""
    by, notice = _need_user(by), get_notice(db, notice_id)
    _expect(notice, EDITABLE, "修改")
    _expect_unsent(db, notice, "修改")
    new = {"title": notice["title"] if title is None else title.strip(),
           "body": notice["body"] if body is None else body,
           "fields": notice["fields"] if fields is None else {**notice["fields"], **fields},
           "audience": notice["audience"] if to is None else to.strip()}
    new["fields"] = {k: v for k, v in templates.check_fields(notice["kind"], new["fields"]).items() if v}
    _check_text(new["title"], new["body"])
    groups.parse_expr(new["audience"])
    voided = notice["status"] in ("submitted", "approved", "scheduled")
    cancelled = _cancel_sends(db, notice["id"])
    set_status(db, notice["id"], "draft", title=new["title"], body=new["body"], fields=dumps(new["fields"]),
               audience=new["audience"], approver="", approved_hash="", override_reason="", findings="[]")
    detail = "审核作废，退回草稿" if voided else "修改草稿"
    audit(db, notice["id"], by, "edit", detail + (f"，撤销 {cancelled} 个待发时间" if cancelled else ""))
    return get_notice(db, notice["id"])


def cancel(db: Database, notice_id: int | str, by: str = "") -> dict[str, Any]:
    """Withdraw it: pending send times (reminders, cron rounds) are cancelled. Groups that have it keep it, and
    the audit says how many."""
    notice = get_notice(db, notice_id)
    _expect(notice, EDITABLE, "撤销")
    cancelled = _cancel_sends(db, notice["id"])
    set_status(db, notice["id"], "cancelled")
    sent = delivered_groups(db, notice["id"])
    kept = f"；已送达的 {sent} 个群不受影响" if sent else ""
    audit(db, notice["id"], by or "staff", "cancel", f"撤销 {cancelled} 个待发时间{kept}")
    return get_notice(db, notice["id"])


def message_for(notice: Mapping[str, Any], send_kind: str = "notice", ack_code: str = "",
                at_bot: bool = False) -> Message:
    reminder = {"reminder": "提醒", "ack_reminder": "请回复"}.get(send_kind, "")
    return templates.render(notice, reminder, ack_code, at_bot)


def ack_code(db: Database, notice_id: int, group: str) -> str:
    """The confirmation code of one (notice, group): `12-7KQ2`, derived with this installation's own key, so
    nothing is stored to check it, and nobody can work one out from the notice number and the group's name."""
    return _code(notice_id, group, _code_key(db, notice_id))


def _code_key(db: Database, notice_id: int) -> bytes:
    """Notices made before the key existed (m015) keep the unkeyed codes they were sent with."""
    return meta_secret(db, "ack_code_key") if notice_id >= int(get_meta(db, ACK_KEYED_FROM) or 1) else b""


def _code(notice_id: int, group: str, key: bytes) -> str:
    digest = hashlib.blake2b(f"{notice_id}:{group}".encode(), key=key, digest_size=8).digest()
    alphabet = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: read out over the phone
    value = int.from_bytes(digest, "big")
    return f"{notice_id}-" + "".join(alphabet[(value >> (5 * i)) % len(alphabet)] for i in range(4))


def acknowledge_code(db: Database, code: str, sender: str = "") -> tuple[dict[str, Any], str] | None:
    """(notice, group) for a valid confirmation code from any channel, the acknowledgement recorded."""
    number, _, _ = code.strip().upper().partition("-")
    if not number.isdigit():
        return None
    rows = db.execute("SELECT DISTINCT grp FROM deliveries WHERE notice_id = ? AND status = 'sent'",
                      [int(number)]).fetchall()
    key = _code_key(db, int(number))  # once, not per group: a notice may have reached a thousand
    group = next((g for (g,) in rows if _code(int(number), g, key) == code.strip().upper()), None)
    if group is None:
        return None
    return record_ack(db, int(number), group, "确认码", sender), group


def record_ack(db: Database, notice_id: int | str, group: str, text: str, who: str) -> dict[str, Any]:
    """One acknowledgement per (notice, group); the first counts. Staff use it for phone confirmations."""
    notice = get_notice(db, notice_id)
    if not db.execute("SELECT 1 FROM deliveries WHERE notice_id = ? AND grp = ? LIMIT 1",
                      [notice["id"], group]).fetchone():
        raise InvalidInput(f"通知 #{notice['id']} 没有发往群 {group!r}")
    db.execute("INSERT OR IGNORE INTO notice_acks(notice_id, grp, at, text, sender) VALUES (?, ?, ?, ?, ?)",
               [notice["id"], group, _now(), text, who])
    bump(db, "notices")
    return notice


def record_staff_ack(db: Database, notice_id: int | str, group: str, text: str, by: str) -> dict[str, Any]:
    """A confirmation staff took by phone: recorded and audited, unless the group has answered already (the
    first answer counts), in which case that answer is returned as `earlier`."""
    by = _need_user(by)
    notice = record_ack(db, notice_id, group, text, by)
    row = db.execute("SELECT at, text, sender FROM notice_acks WHERE notice_id = ? AND grp = ?",
                     [notice["id"], group]).fetchone()
    earlier = None if (row[1], row[2]) == (text, by) else {"at": row[0], "text": row[1]}
    if earlier is None:
        audit(db, notice["id"], by, "ack", f"{group}：{text}")
    return {**notice, "earlier": earlier}


_DUMMY = {"webhook": "https://example.invalid/robot/send?key=preview&access_token=preview",
          "api_base": "https://example.invalid"}


def preview_platform(name: str) -> Platform:
    """An adapter instance for rendering only: dummy push keys, never used to send."""
    try:
        cls = platform_class(name)
    except KeyError:
        known = sorted(n for n in REGISTRY if platform_class(n).render is not Platform.render)  # those that push
        close = difflib.get_close_matches(name, known, n=1, cutoff=0.5)
        hint = f"，是不是 {close[0]}？" if close else "；"
        raise InvalidInput(f"未知平台 {name!r}{hint}可选：{'、'.join(known)}") from None
    options = {k: _DUMMY.get(k, "preview") for k in cls.push_keys}
    try:
        return cls("preview", options)
    except ConfigError:
        return cls("preview", {})


def preview(db: Database, notice_id: int | str, platform: str) -> dict[str, Any]:
    """The exact bodies `platform` would post, and their readable text."""
    notice = get_notice(db, notice_id)
    try:
        adapter = preview_platform(platform)
        parts = adapter.render(message_for(notice, at_bot=adapter.mention_to_reply))
    except NotImplementedError:
        raise InvalidInput(f"平台 {platform} 不能推送群消息，无法预览") from None
    return {"id": notice["id"], "platform": platform, "parts": parts, "text": [_text_of(p) for p in parts]}


def _text_of(value: Any) -> str:
    """The longest human-readable string inside a rendered body (a JSON string inside JSON included)."""
    if isinstance(value, str):
        inner = loads(value) if value[:1] in "{[" and _is_json(value) else None
        return _text_of(inner) if inner is not None else value
    if isinstance(value, Mapping):
        value = [value["text"]] if isinstance(value.get("text"), str) else list(value.values())
    if isinstance(value, list) and value and all(isinstance(row, list) for row in value):
        return "\n".join("".join(_text_of(seg) for seg in row) for row in value)  # rich-text rows (Feishu post)
    if isinstance(value, list):
        texts = [_text_of(v) for v in value]
        return max(texts, key=len) if texts else ""
    return ""


def _is_json(text: str) -> bool:
    try:
        loads(text)
    except ValueError:
        return False
    return True


def dry_run(db: Database, notice_id: int | str, bot_platforms: Mapping[str, str]) -> dict[str, Any]:
    """Who would receive it: "N 个群，M 个平台", per platform the groups and a preview."""
    notice = get_notice(db, notice_id)
    targets = [g for g in groups.select_groups(db, notice["audience"]) if groups.receives(g, notice["kind"])]
    by_platform: dict[str, list[str]] = {}
    for group in targets:
        by_platform.setdefault(bot_platforms.get(group["bot"], "?"), []).append(group["name"])
    previews = {p: preview(db, notice["id"], p)["text"] for p in by_platform if p != "?"}
    summary = f"{len(targets)} 个群，{len(by_platform)} 个平台"
    # The previews ask for 收到 in the chat; a group without its chat id cannot be told apart when it answers.
    coded = [g["name"] for g in targets if not g["chat"]]
    if coded:
        summary += f"；其中 {len(coded)} 个群未登记群 ID，通知将改附确认码：{'、'.join(coded[:10])}" + \
            ("等" if len(coded) > 10 else "")
    return {"id": notice["id"], "summary": summary, "groups": len(targets), "platforms": len(by_platform),
            "by_platform": by_platform, "previews": previews, "coded": coded}


def show(db: Database, notice_id: int | str) -> dict[str, Any]:
    """Everything staff need on one notice: content, review, send times (补发/missed), deliveries, audit."""
    from scheduler import outbox

    notice = get_notice(db, notice_id)
    sends = [{**r, "late": bool(r["late"]), "late_text": "补发" if r["late"] else ""} for r in db.query(
        "SELECT n, kind, due_at, status, late, fired_at FROM sends WHERE notice_id = ? ORDER BY n", [notice["id"]])]
    registered = db.execute("SELECT COUNT(*) FROM registrations WHERE notice_id = ?", [notice["id"]]).fetchone()[0]
    return {**notice, "status_text": _status_text(db, notice), "sends": sends,
            "deliveries": outbox.summary(db, notice["id"]), "registrations": registered,
            "audit": audit_log(db, notice["id"])}


def latest_sent(db: Database, group: str, kind: str | None = None) -> dict[str, Any] | None:
    """The newest notice actually delivered to `group` (optionally of one kind) that a group may answer or ask
    about: never the staff's 办理提醒, which would take a 收到 meant for the notice before it."""
    sql = ("SELECT n.id FROM deliveries d JOIN notices n ON n.id = d.notice_id WHERE d.grp = ? AND d.status = 'sent'"
           " AND n.kind != ?" + (" AND n.kind = ?" if kind else "") + " ORDER BY d.sent_at DESC, d.id DESC LIMIT 1")
    row = db.execute(sql, [group, templates.REMINDER_KIND, *([kind] if kind else [])]).fetchone()
    return get_notice(db, row[0]) if row else None


def acknowledge(db: Database, group: str, text: str, sender: str = "") -> dict[str, Any] | None:
    """Record a group's 收到/已下架 for the latest notice it received; the first answer counts."""
    notice = latest_sent(db, group)
    return None if notice is None else record_ack(db, notice["id"], group, text, sender)


def register_attendee(db: Database, group: str, name: str, org: str, sender: str = "") -> dict[str, Any] | None:
    """Sign up for the latest training sent to this group; None when there is none to join."""
    notice = latest_sent(db, group, "培训通知")
    if notice is None:
        return None
    start = notice["fields"].get("start")
    if start and templates.parse_when(start) < clock.now():
        return None
    deadline = notice["fields"].get("register_by")
    if deadline and templates.parse_when(deadline) < clock.now():
        raise InvalidInput(f"《{notice['title']}》报名已于 {templates.show_field('register_by', deadline)} 截止。")
    db.execute("INSERT OR IGNORE INTO registrations(notice_id, grp, name, org, sender, at) VALUES (?, ?, ?, ?, ?, ?)",
               [notice["id"], group, name, org, sender, _now()])
    return notice


def roster(db: Database, notice_id: int | str) -> list[dict[str, Any]]:
    notice = get_notice(db, notice_id)
    if notice["kind"] != "培训通知":
        raise InvalidInput(f"通知 {notice['id']} 是{notice['kind']}，没有报名名单（只有培训通知可以报名）")
    return list(db.query("SELECT grp AS 'group', name, org, at FROM registrations WHERE notice_id = ? ORDER BY id",
                         [notice["id"]]))


def report(db: Database, notice_id: int | str) -> dict[str, Any]:
    """Per group: delivered or not, acknowledged or not; counts on top, for the record and for reminders."""
    data = show(db, notice_id)
    rows = data["deliveries"]
    counts: dict[str, int] = {}
    for row in rows:
        counts[row["status"]] = counts.get(row["status"], 0) + 1
    acked = sum(1 for r in rows if r["acknowledged"])
    return {"id": data["id"], "title": data["title"], "status": data["status"], "groups": len(rows),
            "counts": counts, "acknowledged": acked, "registrations": data["registrations"], "deliveries": rows}
