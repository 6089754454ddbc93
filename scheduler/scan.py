"""Sensitive-content scan run at submit (保密审查): what must never go out in a broadcast.

Personal data (ID numbers, mobiles, landlines, bank cards, home addresses) and secrecy markers.
Findings block approval until a reviewer overrides with a logged reason.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from typing import Any

__all__ = ["id_checksum_ok", "luhn_ok", "mask", "scan"]

# Patterns run on the normalised text (see _normalise): ASCII digits and brackets, no zero-width characters.
_ID = re.compile(r"(?<!\d)[1-9]\d{5} ?(?:19|20)\d{2} ?(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]) ?\d{3}[\dXx](?!\d)")
_ID15 = re.compile(r"(?<!\d)[1-8]\d{5}(\d{6})\d{3}(?!\d)")  # pre-1999 IDs: area + YYMMDD + sequence
_MOBILE = re.compile(r"(?<!\d)(?:(?:\+|00)?86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?!\d)")  # 86 / 0086 too
# The number may be split (0571-8765 4321) only after a clear area code, not within a run of digit groups
# (6222 0212 3456 7890 is no phone number): split by spaces alone (0571 8765 4321), it must stand on its own.
_LANDLINE = re.compile(r"(?<!\d)(?:0\d{2,3}\s?\d{7,8}|(?:0\d{2,3}[-—]|\(0\d{2,3}\)\s?)\d{3,4}[ -]?\d{4}"
                       r"|(?<!\d[ -])0\d{2,3} \d{3,4} \d{4}(?![ -]?\d))(?!\d)")
_CARD = re.compile(r"(?<!\d)(?:\d[ -]?){15,18}\d(?!\d)")
# A number right after one of these words is a batch/serial number, not personal data.
_BATCH_WORD = re.compile(r"(?:批号|批次|编号|生产日期|条码|货号)\s*[:#]?\s*(?:为|是)?\s*$")
_NUM = r"[0-9一二三四五六七八九十百零〇]+"
# 号 followed by 楼 is a building (到3号楼集合), a meeting place rather than a home.
_ADDRESS = re.compile(rf"[\u4e00-\u9fff]{{1,12}}(?:路|街|巷|大道|胡同|弄|里)\s*{_NUM}(?:-\d+)?\s*号(?!楼)")
# A home needs building + unit + room; a building alone is not one.
_UNIT = re.compile(rf"[\u4e00-\u9fff]{{0,8}}{_NUM}\s*(?:栋|幢|号楼)\s*{_NUM}\s*单元\s*{_NUM}\s*[室号]")
# 秘密/机密/绝密 are also ordinary words (商业机密); only count them set out as a classification mark.
_CLASSIFIED = re.compile(r"(?:^|(?<=[【★☆]))(?:绝密|机密|秘密)[★☆级]?|(?:绝密|机密|秘密)[★☆级]", re.MULTILINE)
_MARKERS = ("内部资料", "内部文件", "注意保存", "注意保管", "注意保密", "不得外传", "工作秘密", "征求意见稿", "讨论稿")
_ZERO_WIDTH = dict.fromkeys(map(ord, "\u200b\u200c\u200d\ufeff\u2060"))
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


def _normalise(text: str) -> tuple[str, list[int]]:
    """NFKC (full-width digits and brackets) without zero-width characters, which authors paste or use
    to dodge the scan; with each character's index in `text`, so findings quote what was written."""
    chars: list[str] = []
    where: list[int] = []
    for i, ch in enumerate(text):
        out = unicodedata.normalize("NFKC", ch.translate(_ZERO_WIDTH))
        chars += out
        where += [i] * len(out)
    return "".join(chars), where


def _real_date(yyyymmdd: str) -> bool:
    try:
        return bool(date(int(yyyymmdd[:4]), int(yyyymmdd[4:6]), int(yyyymmdd[6:8])))
    except ValueError:
        return False


def _after_batch_word(norm: str, start: int) -> bool:
    return bool(_BATCH_WORD.search(norm[max(0, start - 12):start]))


def scan(text: str) -> list[dict[str, Any]]:
    """Every finding in `text`, in a fixed order: personal data first, then secrecy markers."""
    norm, where = _normalise(text)
    found: list[dict[str, Any]] = []
    taken: list[tuple[int, int]] = []

    def add(kind: str, label: str, m: re.Match[str]) -> None:
        found.append(_finding(kind, label, text[where[m.start()]:where[m.end() - 1] + 1]))
        taken.append(m.span())

    for m in _ID.finditer(norm):
        if id_checksum_ok(m.group().replace(" ", "")):
            add("id_number", "身份证号", m)
    for m in _ID15.finditer(norm):
        # No check digit: a real birth date (19YYMMDD) is what tells an ID from any 15-digit number.
        if _real_date("19" + m.group(1)) and not _after_batch_word(norm, m.start()) and not _inside(m.span(), taken):
            add("id_number", "身份证号", m)
    for m in _CARD.finditer(norm):
        digits = re.sub(r"\D", "", m.group())
        if len(digits) < 16 or _inside(m.span(), taken):
            continue
        # No card number begins with 20 (Mastercard's 2-series is 2221-2720); production batches
        # often begin with their date (20YYMMDD).
        if _after_batch_word(norm, m.start()) or (digits.startswith("20") and _real_date(digits[:8])):
            taken.append(m.span())  # one number: don't read a phone number out of its digits either
        elif luhn_ok(digits):
            add("bank_card", "银行卡号", m)
    for pattern, kind, label in ((_MOBILE, "mobile", "手机号"), (_LANDLINE, "landline", "固定电话"),
                                 (_ADDRESS, "address", "详细地址（门牌号）"), (_UNIT, "address", "详细地址（门牌号）")):
        for m in pattern.finditer(norm):
            if not _inside(m.span(), taken):
                add(kind, label, m)
    # Marks are also written spaced out (秘 密★, 内 部 资 料): match them with spaces removed, lines kept.
    compact = re.sub(r"[^\S\n]+", "", norm)
    marks = [m.group() for m in _CLASSIFIED.finditer(compact)] + [w for w in _MARKERS if w in compact]
    found += [{"kind": "secrecy", "label": "涉密/内部标识", "value": w} for w in dict.fromkeys(marks)]
    return found


def _inside(span: tuple[int, int], taken: list[tuple[int, int]]) -> bool:
    return any(span[0] < b and a < span[1] for a, b in taken)
