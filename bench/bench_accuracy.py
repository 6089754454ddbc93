"""Accuracy of the matcher on the labelled questions: answerable top-1, abstention, and per kind."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import json  # noqa: E402
from collections import defaultdict  # noqa: E402
from datetime import date  # noqa: E402

from knowledge import Knowledge  # noqa: E402

CATALOG = ROOT / "knowledge" / "data" / "demo_catalog.jsonl"
QUESTIONS = ROOT / "tests" / "data" / "questions.jsonl"


def load_jsonl(path: Path) -> list[dict]:
    """One JSON object a line, blank lines skipped."""
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def evaluate(kb: Knowledge, rows: list[dict]) -> list[tuple[dict, bool, str]]:
    """(row, correct, what happened) per question: right item first and answered, or abstained."""
    out = []
    for row in rows:
        today = date.fromisoformat(row["today"]) if row.get("today") else None
        ans = kb.search(row["q"], top_k=3, today=today)
        top = ans.matches[0].id if ans.matches else None
        if row["expect"] is None:
            ok, got = not ans.answered, f"answered {top}" if ans.answered else ans.reason
        else:
            ok = ans.answered and top == row["expect"]
            got = f"top={top} answered={ans.answered} {ans.reason}"
        out.append((row, ok, got))
    return out


def main() -> None:
    """Print the figures and the misses."""
    kb = Knowledge.build(load_jsonl(CATALOG))
    results = evaluate(kb, load_jsonl(QUESTIONS))
    answerable = [ok for row, ok, _ in results if row["expect"] is not None]
    unanswerable = [ok for row, ok, _ in results if row["expect"] is None]
    print(f"catalog items: {len(kb)}  questions: {len(results)}")
    print(f"answerable right-item-first: {sum(answerable)}/{len(answerable)} = {sum(answerable) / len(answerable):.3f}")
    print(f"unanswerable abstained:      {sum(unanswerable)}/{len(unanswerable)} = "
          f"{sum(unanswerable) / len(unanswerable):.3f}")
    kinds: dict[str, list[bool]] = defaultdict(list)
    for row, ok, _ in results:
        kinds[row["kind"]].append(ok)
    for kind, oks in sorted(kinds.items()):
        print(f"  {kind:<13} {sum(oks):>3}/{len(oks):<3} {sum(oks) / len(oks):.3f}")
    for row, ok, got in results:
        if not ok:
            print(f"MISS [{row['kind']}] {row['q']} -> expect {row['expect']}, {got}")


if __name__ == "__main__":
    main()
