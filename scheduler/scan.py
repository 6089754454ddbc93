"""Sensitive-content scan run at submit (保密审查): what must never go out in a broadcast.

Personal data (ID numbers, mobiles, landlines, bank cards, house-number addresses) and secrecy markers.
Findings block approval until a reviewer overrides with a logged reason.
"""

from __future__ import annotations

import re
from typing import Any

__all__ = ["scan", "id_checksum_ok", "luhn_ok", "mask"]

_ID = re.compile(r"(?<![0-9])[1-9]\d{5}(?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx](?![0-9])")
_MOBILE = re.compile(r"(?<![0-9])1[3-9]\d{9}(?![0-9])")
_LANDLINE = re.compile(r"(?<![0-9])(?:0\d{2,3}[-－—\s]?)\d{7,8}(?![0-9])|(?<![0-9])\(0\d{2,3}\)\s?\d{7,8}(?![0-9])")
_CARD = re.compile(r"(?<![0-9])(?:\d[ -]?){15,18}\d(?![0-9])")
_ADDRESS = re.compile(r"[\u4e00-\u9fff]{1,12}(?:路|街|巷|大道|胡同|弄|里)\s*[0-9０-９一二三四五六七八九十百零〇]+(?:-\d+)?\s*号")
_MARKERS = ("绝密", "机密", "秘密★", "内部资料", "内部文件", "注意保存", "注意保管", "注意保密", "不得外传",
            "工作秘密", "征求意见稿", "讨论稿")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_checksum_ok(number: str) -> bool:
    """GB 11643 check digit: a random 18-digit string is rarely an ID number."""
    total = sum(int(d) * w for d, w in zip(number[:17], _ID_WEIGHTS))
    return "10X98765432"[total % 11] == number[17].upper()


def luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch) * (2 if i % 2 else 1)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def mask(value: str) -> str:
    """Show enough to find it in the text, never the whole value (the audit log keeps findings)."""
    if len(value) <= 4:
        return "*" * len(value)
    keep = 3 if len(value) > 8 else 1
    return value[:keep] + "*" * (len(value) - 2 * keep) + value[-keep:]


def _finding(kind: str, label: str, value: str) -> dict[str, Any]:
    return {"kind": kind, "label": label, "value": mask(value)}


def scan(text: str) -> list[dict[str, Any]]:
    """Every finding in `text`, in a fixed order: personal data first, then secrecy markers."""
    found: list[dict[str, Any]] = []
    taken: list[tuple[int, int]] = []
    for m in _ID.finditer(text):
        if id_checksum_ok(m.group()):
            found.append(_finding("id_number", "身份证号", m.group()))
            taken.append(m.span())
    for m in _CARD.finditer(text):
        digits = re.sub(r"\D", "", m.group())
        if 16 <= len(digits) <= 19 and not _inside(m.span(), taken) and luhn_ok(digits):
            found.append(_finding("bank_card", "银行卡号", digits))
            taken.append(m.span())
    for m in _MOBILE.finditer(text):
        if not _inside(m.span(), taken):
            found.append(_finding("mobile", "手机号", m.group()))
    for m in _LANDLINE.finditer(text):
        if not _inside(m.span(), taken):
            found.append(_finding("landline", "固定电话", m.group()))
    found += [_finding("address", "详细地址（门牌号）", m.group()) for m in _ADDRESS.finditer(text)]
    found += [{"kind": "secrecy", "label": "涉密/内部标识", "value": w} for w in _MARKERS if w in text]
    return found


def _inside(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(a <= span[0] < b or a < span[1] <= b for a, b in taken)
