"""Accuracy of the matcher: answerable top-1, abstention and per kind, on eight labelled sets.

`demo`: the demo catalog and the questions the matcher was tuned on. `heldout`: a second, fictional district's
catalog and citizen questions (tests/data/heldout/); written blind, but since seen during tuning. `fresh`: a third
district's catalog and questions (tests/data/fresh/), written before the changes they measure and never used to
add vocabulary or tune on its misses until the abstention work, which looked at them. `fourth`: a fourth district's
catalog and questions (tests/data/fourth/, 南山区), written before that work and measured only in totals and per
kind until the intent/typo work, which read its misses. `fifth`: a fifth district's catalog and group-chat style
questions (tests/data/fifth/, 西城区), written before that work and measured only in totals and per kind (always run
it with -q) until the sixth set was written, then tuned on its misses. `sixth`: a sixth district's catalog and
questions (tests/data/sixth/, 江北区), written before the month-range/colloquial work and measured only in totals
and per kind until the particular-case rule, which read its unanswered misses. `seventh`: a seventh district's
catalog and questions (tests/data/seventh/, 临江区), written after all of that by someone who had not read the
matcher, measured in totals, then tuned on its misses. `eighth`: an eighth district's (tests/data/eighth/, 白沙区),
written the same way and measured only in totals and per kind: the honest figure.
`python bench/bench_accuracy.py [demo|heldout|...|seventh|eighth] [-q]` (-q: figures only, no list of misses; the
held-out set's misses are never printed unless --misses-held-out is given).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import json
from collections import defaultdict
from datetime import date

from knowledge import Knowledge

SETS = {
    "demo": (ROOT / "knowledge" / "data" / "demo_catalog.jsonl", ROOT / "tests" / "data" / "questions.jsonl"),
    **{name: (ROOT / "tests" / "data" / name / "catalog.jsonl", ROOT / "tests" / "data" / name / "questions.jsonl")
       for name in ("heldout", "fresh", "fourth", "fifth", "sixth", "seventh", "eighth")},
}
CATALOG, QUESTIONS = SETS["demo"]
HELD_OUT = {"eighth"}  # its misses are never printed (--misses-held-out does): reading them would end its use


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


def figures(results: list[tuple[dict, bool, str]]) -> tuple[float, float]:
    """(answerable right-item-first rate, unanswerable abstention rate)."""
    answerable = [ok for row, ok, _ in results if row["expect"] is not None]
    unanswerable = [ok for row, ok, _ in results if row["expect"] is None]
    return sum(answerable) / max(1, len(answerable)), sum(unanswerable) / max(1, len(unanswerable))


def report(name: str, quiet: bool = False) -> tuple[float, float]:
    """Print one set's figures (and misses unless quiet); return them."""
    catalog, questions = SETS[name]
    kb = Knowledge.build(load_jsonl(catalog))
    results = evaluate(kb, load_jsonl(questions))
    answerable = [ok for row, ok, _ in results if row["expect"] is not None]
    unanswerable = [ok for row, ok, _ in results if row["expect"] is None]
    print(f"== {name}: catalog items: {len(kb)}  questions: {len(results)}")
    print(f"answerable right-item-first: {sum(answerable)}/{len(answerable)} = {sum(answerable) / len(answerable):.3f}")
    print(f"unanswerable abstained:      {sum(unanswerable)}/{len(unanswerable)} = "
          f"{sum(unanswerable) / len(unanswerable):.3f}")
    kinds: dict[str, list[bool]] = defaultdict(list)
    for row, ok, _ in results:
        kinds[row["kind"]].append(ok)
        if row.get("why"):  # unanswerable split: off_domain / specifics_missing
            kinds[f"  {row['why']}"].append(ok)
    for kind, oks in sorted(kinds.items(), key=lambda kv: "unanswerable~" + kv[0] if kv[0][0] == " " else kv[0]):
        print(f"  {kind:<19} {sum(oks):>3}/{len(oks):<3} {sum(oks) / len(oks):.3f}")
    if not quiet:
        for row, ok, got in results:
            if not ok:
                print(f"MISS [{row['kind']}] {row['q']} -> expect {row['expect']}, {got}")
    return figures(results)


def main() -> None:
    """Print the figures and the misses of each set asked for (all of them by default)."""
    args = [a for a in sys.argv[1:] if not a.startswith("-")]
    for name in args or list(SETS):
        held_out = name in HELD_OUT and "--misses-held-out" not in sys.argv
        report(name, quiet="-q" in sys.argv or held_out)


if __name__ == "__main__":
    main()
