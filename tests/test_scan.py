"""Sensitive-content scan (保密审查): the audit's misses and false positives, one case each."""

from __future__ import annotations

import json

import pytest

from scheduler import scan

MISSES = [  # written in ways the scan used to miss
    ("手机 138 1234 5678", ["mobile"]),
    ("手机 138-1234-5678", ["mobile"]),
    ("手机 +8613812345678", ["mobile"]),
    ("手机 +86 138 1234 5678", ["mobile"]),
    ("手机 8613812345678", ["mobile"]),  # the country code without +
    ("手机 86-138-1234-5678", ["mobile"]),
    ("手机 0086 13812345678", ["mobile"]),
    ("手机 １３８１２３４５６７８", ["mobile"]),
    ("身份证 110105 19491231 002X", ["id_number"]),
    ("身份证 １１０１０５１９４９１２３１００２Ｘ", ["id_number"]),
    ("身份证 110105491231002", ["id_number"]),  # 15-digit, born 1949-12-31
    ("电话 0571-8765 4321", ["landline"]),
    ("电话 （0571）87654321", ["landline"]),
    ("电话 0571 8765 4321", ["landline"]),
    ("联系电话：010 6512 3456。", ["landline"]),
    ("秘 密★", ["secrecy"]),
    ("秘密☆", ["secrecy"]),
    ("内 部 资 料", ["secrecy"]),
    ("内\u200b部资料", ["secrecy"]),
    ("绝 密", ["secrecy"]),
    ("机\u200c密★", ["secrecy"]),
    ("住址 幸福小区3栋2单元501室", ["address"]),
    ("住址 幸福小区三号楼二单元501号", ["address"]),
]

FALSE_POSITIVES = [  # flagged before, not personal data or secrecy marks
    ("批号 2026110100000002", []),  # passes Luhn; a batch number
    ("批次 6222021234567890128", []),
    ("编号：6222021234567890128", []),
    ("生产日期 6222021234567890128", []),
    ("条码 6222021234567890128", []),
    ("货号 6222021234567890128", []),
    ("追溯码 2026050112345674", []),  # passes Luhn but starts with a date: no card starts 20
    ("依法保护商业机密，不得泄露。", []),
    ("到村里3号楼集合", []),
]

KEEP = [  # found before and still found, or never found and still not
    ("绝密", ["secrecy"]),
    ("机密★", ["secrecy"]),
    ("【机密】", ["secrecy"]),
    ("秘密★1年", ["secrecy"]),
    ("卡号 6217001234567890122", ["bank_card"]),
    ("卡号 6222 0212 3456 7890 128", ["bank_card"]),
    ("手机13812345678 13912345678", ["mobile", "mobile"]),
    ("电话 0531-88886666 0531-88887777", ["landline", "landline"]),
    ("济南市历下区泉城路188号", ["address"]),
    ("投诉举报请拨打12315或12345", []),
    ("批号 20260501", []),
    ("生产日期 2026-05-01 08:30", []),
    ("2026年12月1日 9:00", []),
    ("订单 123456789012345", []),  # 15 digits, but 789012 is no date
    ("订单号 6222 0212 3456 7890 127", []),  # fails Luhn; no phone number inside it either
    ("订单号 6222 0212 3456 7890", []),  # 0212 3456 7890 is a run of groups, not a landline
    ("编码 0571 8765 4321 9", []),
    ("保守国家秘密", []),
    ("济南市历下区泉城路", []),
]


@pytest.mark.parametrize("text, kinds", MISSES + FALSE_POSITIVES + KEEP)
def test_scan_kinds(text: str, kinds: list[str]) -> None:
    assert [f["kind"] for f in scan.scan(text)] == kinds


def test_finding_quotes_the_original_text_masked() -> None:
    mobile, = scan.scan("手机 １３８１２３４５６７８")
    assert mobile == {"kind": "mobile", "label": "手机号", "value": "１３８*****６７８"}
    landline, = scan.scan("电话 （0571）87654321")
    assert landline["label"] == "固定电话" and landline["value"] == scan.mask("（0571）87654321")
    found = scan.scan("手机 +86 138 1234 5678，身份证 110105 19491231 002X")
    assert "1234" not in json.dumps(found) and "19491231" not in json.dumps(found)


def test_secrecy_value_is_the_mark_without_spacing() -> None:
    assert scan.scan("内\u200b部 资料") == [{"kind": "secrecy", "label": "涉密/内部标识", "value": "内部资料"}]
    assert [f["value"] for f in scan.scan("秘 密 ★\n注意保密")] == ["秘密★", "注意保密"]
