#!/usr/bin/env python3
"""Python baseline of the kb search benchmark: rank_bm25 (BM25Okapi) over jieba tokens.

It reads what the Rust bench (kb/benches/search.rs) wrote to the data folder -- the generated
``articles-<n>.json`` for every size in ``rust-results.json`` and the ``queries.json`` actually
used -- so both systems search exactly the same data with the same queries and locales.

Index: one BM25 document per phrasing (standard question + similar ones, de-duplicated per
article after lowercasing), tokenized with ``jieba.lcut_for_search`` on lowercased text,
tokens without any letter or digit dropped. Search (timed as a whole, analysis included):
tokenize the query, ``BM25Okapi.get_scores``, keep only phrasings of the query's language
(zh / en, the locale the Rust bench detected), take the best phrasing per article, return the
top 3 articles; no match (all scores 0) returns nothing. Top-1 is scored against ``expected``
where the Rust bench marked the query as scored.

rank_bm25 scores every document in a Python loop per query token, so at large sizes only a
fixed, evenly spaced subset of the queries is run (``--max-queries-large``, one pass); the
indices of the queries run are written out so the report compares top-1 on the same subset.

Usage: python kb/bench/baseline.py --data target/kb-bench  (kb/bench/run.sh does it all).
"""

import argparse
import importlib.metadata
import json
import logging
import math
import os
import sys
import time

import jieba
import numpy as np
from rank_bm25 import BM25Okapi

LIMIT = 3


def tokenize(text):
    """jieba search-mode tokens of the lowercased text, without punctuation/space tokens."""
    return [t for t in jieba.lcut_for_search(text.lower()) if any(c.isalnum() for c in t)]


def lang_of(locale):
    return locale.strip().replace("_", "-").split("-")[0].lower()


def rss_mib():
    """Current and peak resident memory of this process in MiB (from /proc/self/status)."""
    out = {}
    try:
        with open("/proc/self/status") as f:
            for line in f:
                key, _, rest = line.partition(":")
                if key in ("VmRSS", "VmHWM"):
                    out[key] = int(rest.split()[0]) / 1024
    except OSError:
        pass
    return out.get("VmRSS", math.nan), out.get("VmHWM", math.nan)


class Baseline:
    """BM25Okapi over phrasings, best phrasing per article."""

    def __init__(self, articles):
        texts, owner = [], []
        self.ids = []
        starts = []
        for a in articles:
            if not a.get("enabled", True):
                continue
            seen = set()
            first = len(texts)
            for text in [a["question"], *a.get("similar", [])]:
                key = " ".join(text.lower().split())
                if not key or key in seen:
                    continue
                seen.add(key)
                texts.append(text)
                owner.append(len(self.ids))
            if len(texts) > first:
                starts.append(first)
                self.ids.append((a["id"], lang_of(a.get("locale", "zh-CN"))))
        self.starts = np.array(starts)
        phrasing_lang = [self.ids[o][1] for o in owner]
        self.masks = {lang: np.array([l == lang for l in phrasing_lang]) for lang in set(phrasing_lang)}
        self.phrasings = len(texts)
        self.bm25 = BM25Okapi([tokenize(t) for t in texts])

    def search(self, query, locale):
        scores = self.bm25.get_scores(tokenize(query))
        mask = self.masks.get(lang_of(locale)) if locale else None
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        best = np.maximum.reduceat(scores, self.starts)  # best phrasing per article
        k = min(LIMIT, len(best))
        top = np.argpartition(-best, k - 1)[:k]
        top = top[np.argsort(-best[top], kind="stable")]
        return [self.ids[i][0] for i in top if best[i] > 0.0]


def percentile(sorted_ns, p):
    """Nearest-rank percentile (same definition as the Rust bench)."""
    if not sorted_ns:
        return math.nan
    rank = math.ceil(p * len(sorted_ns))
    return sorted_ns[min(max(rank, 1), len(sorted_ns)) - 1]


def measure(engine, queries, indices, min_searches):
    passes = max(1, math.ceil(min_searches / max(1, len(indices))))
    samples = []
    wall = time.perf_counter_ns()
    for _ in range(passes):
        for i in indices:
            q = queries[i]
            start = time.perf_counter_ns()
            engine.search(q["query"], q["locale"])
            samples.append(time.perf_counter_ns() - start)
    wall = time.perf_counter_ns() - wall
    samples.sort()
    return {
        "searches": len(samples),
        "p50_us": percentile(samples, 0.50) / 1e3,
        "p99_us": percentile(samples, 0.99) / 1e3,
        "mean_us": sum(samples) / len(samples) / 1e3,
        "qps": len(samples) / (wall / 1e9),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="folder written by the Rust bench")
    parser.add_argument("--min-searches", type=int, default=1000,
                        help="measured searches per size when all queries are run")
    parser.add_argument("--large", type=int, default=10000,
                        help="from this many articles on, run only a subset of the queries")
    parser.add_argument("--max-queries-large", type=int, default=200,
                        help="size of the query subset (one measured pass) at large sizes")
    args = parser.parse_args()

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()  # load the dictionary before anything is timed

    with open(os.path.join(args.data, "rust-results.json")) as f:
        sizes = [row["articles"] for row in json.load(f)["sizes"]]
    with open(os.path.join(args.data, "queries.json")) as f:
        queries = json.load(f)
    print(f"rank_bm25 baseline: {len(queries)} queries, sizes {sizes}", flush=True)

    rows = []
    for n in sizes:
        with open(os.path.join(args.data, f"articles-{n}.json")) as f:
            articles = json.load(f)
        start = time.perf_counter()
        engine = Baseline(articles)
        build_s = time.perf_counter() - start
        del articles
        rss, hwm = rss_mib()

        if n >= args.large and len(queries) > args.max_queries_large:
            m = args.max_queries_large
            indices = sorted({(i * len(queries)) // m for i in range(m)})
            min_searches, subset = len(indices), True
        else:
            indices, min_searches, subset = list(range(len(queries))), args.min_searches, False

        # Warm-up pass over the queries run, recording each one's top-1.
        top1 = [None] * len(queries)
        for i in indices:
            hits = engine.search(queries[i]["query"], queries[i]["locale"])
            top1[i] = hits[0] if hits else None
        stats = measure(engine, queries, indices, min_searches)
        scored = [i for i in indices if queries[i].get("expected")]
        correct = sum(top1[i] == queries[i]["expected"] for i in scored)
        print(f"{n:>7} articles ({engine.phrasings} phrasings): built in {build_s:.2f} s, "
              f"RSS {rss:.0f} MiB; {len(indices)} queries{' (subset)' if subset else ''}, "
              f"p50 {stats['p50_us']:.0f} µs, p99 {stats['p99_us']:.0f} µs, "
              f"top-1 {correct}/{len(scored)}", flush=True)
        rows.append({
            "articles": n,
            "phrasings": engine.phrasings,
            "build_s": build_s,
            "rss_mib": rss,
            "peak_rss_mib": hwm,
            "query_indices": indices,
            "subset": subset,
            "search": stats,
            "top1": top1,
        })
        del engine

    out = os.path.join(args.data, "python-results.json")
    with open(out, "w") as f:
        json.dump({
            "system": "rank_bm25 + jieba (Python)",
            "versions": {
                "python": sys.version.split()[0],
                "rank_bm25": importlib.metadata.version("rank_bm25"),
                "jieba": jieba.__version__,
                "numpy": np.__version__,
            },
            "limit": LIMIT,
            "sizes": rows,
        }, f, indent=1)
    print(f"results written to {out}")


if __name__ == "__main__":
    main()
