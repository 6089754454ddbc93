"""Search latency on a synthetic 10,000-item catalog, beside rank_bm25's BM25Okapi on the same tokens."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import json
import random
import statistics
import time
from collections.abc import Callable

from knowledge import Knowledge
from knowledge.text import tokenize

CATALOG = ROOT / "knowledge" / "data" / "demo_catalog.jsonl"
QUESTIONS = ROOT / "tests" / "data" / "questions.jsonl"
SIZE = 10_000
SEED = 20140331
PLACES = ["东城", "西城", "南郊", "北苑", "高新区", "开发区", "城关", "湖滨", "新华", "和平"]


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def synthesize(demo: list[dict], size: int, rng: random.Random) -> list[dict]:
    """Variations of the demo items: other years, places, sentence order and borrowed keywords."""
    items = []
    for n in range(size):
        base = rng.choice(demo)
        year = rng.randint(2010, 2024)
        place = rng.choice(PLACES)
        sentences = [s for s in base["body"].split("。") if s]
        rng.shuffle(sentences)
        other = rng.choice(demo)
        items.append({**base, "id": f"syn-{n:05d}", "title": f"{place}{year}年{base['title']}",
                      "published": f"{year}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                      "keywords": base["keywords"] + rng.sample(other["keywords"], 1),
                      "body": "。".join(sentences) + f"。本信息由{place}监管所于{year}年发布。"})
    return items


def percentiles(samples: list[float]) -> tuple[float, float]:
    """p50 and p90 in milliseconds."""
    cuts = statistics.quantiles(samples, n=10)
    return statistics.median(samples) * 1000, cuts[8] * 1000


def timed(fn: Callable[[str], object], questions: list[str], rounds: int) -> list[float]:
    samples = []
    for _ in range(rounds):
        for q in questions:
            start = time.perf_counter()
            fn(q)
            samples.append(time.perf_counter() - start)
    return samples


def main() -> None:
    """Build both, then time every labelled question a few times through each."""
    from rank_bm25 import BM25Okapi

    demo = load_jsonl(CATALOG)
    questions = [row["q"] for row in load_jsonl(QUESTIONS)]
    items = synthesize(demo, SIZE, random.Random(SEED))
    start = time.perf_counter()
    kb = Knowledge.build(items)
    print(f"Knowledge.build({len(kb)} items): {time.perf_counter() - start:.2f} s")
    corpus = [tokenize(f"{i['title']} {' '.join(i['keywords'])} {i['body']}") for i in items]
    bm25 = BM25Okapi(corpus)
    ours = timed(lambda q: kb.search(q, top_k=3), questions, rounds=5)
    theirs = timed(lambda q: bm25.get_scores(tokenize(q)), questions, rounds=1)
    print(f"questions: {len(questions)}  (latency includes tokenisation of the question)")
    print("Knowledge.search          p50 {:.3f} ms  p90 {:.3f} ms".format(*percentiles(ours)))
    print("rank_bm25 get_scores      p50 {:.3f} ms  p90 {:.3f} ms".format(*percentiles(theirs)))


if __name__ == "__main__":
    main()
