#!/usr/bin/env python3
"""Side-by-side table of the kb search bench (Rust) and the rank_bm25 baseline (Python).

Reads ``rust-results.json`` and ``python-results.json`` from the data folder (written by
kb/benches/search.rs and kb/bench/baseline.py) and prints, per size, both systems' p50 / p99
latency, QPS and top-1, and how many times faster kb is. Top-1 of both systems is computed on
the same queries: those the baseline ran (all of them, or the fixed subset at large sizes).
Then the issue's goals: p99 <= 1 ms at 1 000 articles, and >= 10x faster than the baseline at
equal or better top-1.

Usage: python kb/bench/report.py --data target/kb-bench
"""

import argparse
import json
import os


def top1(queries, answers, indices):
    scored = [i for i in indices if queries[i].get("expected")]
    correct = sum(answers[i] == queries[i]["expected"] for i in scored)
    return correct, len(scored)


def pct(correct, scored):
    return f"{100 * correct / scored:.1f}%" if scored else "-"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    args = parser.parse_args()

    def load(name):
        with open(os.path.join(args.data, name)) as f:
            return json.load(f)

    rust, python, queries = load("rust-results.json"), load("python-results.json"), load("queries.json")
    py_by_size = {row["articles"]: row for row in python["sizes"]}

    header = (f"{'articles':>8}  {'system':<34} {'queries':>7} {'searches':>8} {'p50 µs':>9} "
              f"{'p99 µs':>9} {'QPS':>8} {'top-1':>14}  {'kb speed-up p50 / p99':>21}")
    print()
    print(header)
    print("-" * len(header))
    notes, verdicts = [], []
    for row in rust["sizes"]:
        n = row["articles"]
        py = py_by_size.get(n)
        indices = py["query_indices"] if py else list(range(len(queries)))
        rs = row["search"]
        rc, rscored = top1(queries, row["top1"], indices)
        if py:
            ps = py["search"]
            pc, pscored = top1(queries, py["top1"], indices)
            up50, up99 = ps["p50_us"] / rs["p50_us"], ps["p99_us"] / rs["p99_us"]
            speedup = f"{up50:.1f}x / {up99:.1f}x"
        else:
            speedup = "-"
        print(f"{n:>8}  {'kb (Rust: tantivy + jieba-rs)':<34} {len(queries):>7} "
              f"{rs['searches']:>8} {rs['p50_us']:>9.0f} {rs['p99_us']:>9.0f} {rs['qps']:>8.0f} "
              f"{pct(rc, rscored) + f' ({rc}/{rscored})':>14}  {speedup:>21}")
        if py:
            label = "rank_bm25 + jieba (Python)" + (" [subset]" if py["subset"] else "")
            print(f"{n:>8}  {label:<34} {len(indices):>7} {ps['searches']:>8} "
                  f"{ps['p50_us']:>9.0f} {ps['p99_us']:>9.0f} {ps['qps']:>8.1f} "
                  f"{pct(pc, pscored) + f' ({pc}/{pscored})':>14}  {'':>21}")
            if py["subset"]:
                notes.append(f"at {n} articles the Python baseline ran a fixed subset of "
                             f"{len(indices)} of the {len(queries)} queries, one pass; top-1 of "
                             f"both systems is on that subset, kb's latency on all queries")
            verdicts.append((n, up50, up99, rc * pscored >= pc * rscored))
        print(f"{'':>8}  {'  build s / RSS MiB':<34} kb {row['build_s']:.2f} s / {row['rss_mib']:.0f} MiB"
              + (f", baseline {py['build_s']:.2f} s / {py['rss_mib']:.0f} MiB" if py else "")
              + f"  ({row['phrasings']} phrasings)")
        nf = row["search_no_locale_filter"]
        print(f"{'':>8}  {'  kb without locale filter':<34} {'':>7} {nf['searches']:>8} "
              f"{nf['p50_us']:>9.0f} {nf['p99_us']:>9.0f} {nf['qps']:>8.0f}")
    a = rust["analysis_only"]
    print(f"{'-':>8}  {'kb analysis only (empty index)':<34} {len(queries):>7} {a['searches']:>8} "
          f"{a['p50_us']:>9.0f} {a['p99_us']:>9.0f} {a['qps']:>8.0f}")
    print()
    print(f"queries: {rust['queries_source']}; limit {rust['limit']}; locale zh-CN/en from the "
          f"query's script; latency = one full search call including query analysis")
    for note in notes:
        print("note: " + note)


    # Top-1 per query kind (colloquial, typo, traditional...), both systems on the same queries.
    kinds = sorted({q.get("kind", "unknown") for q in queries})
    print()
    print("top-1 by query kind (kb / baseline, on the queries the baseline ran):")
    for row in rust["sizes"]:
        py = py_by_size.get(row["articles"])
        if not py:
            continue
        parts = []
        for kind in kinds:
            idx = [i for i in py["query_indices"] if queries[i].get("kind", "unknown") == kind]
            rc, scored = top1(queries, row["top1"], idx)
            pc, _ = top1(queries, py["top1"], idx)
            if scored:
                parts.append(f"{kind} {rc}/{pc} of {scored}")
        print(f"{row['articles']:>8}  " + ", ".join(parts))

    print()
    small = next((row for row in rust["sizes"] if row["articles"] == 1000), None)
    if small:
        p99 = small["search"]["p99_us"]
        print(f"goal p99 <= 1 ms at 1 000 articles: {'MET' if p99 <= 1000 else 'NOT MET'} "
              f"(p99 {p99:.0f} µs)")
    for n, up50, up99, top_ok in verdicts:
        fast = min(up50, up99) >= 10
        print(f"goal >= 10x faster than the baseline at equal or better top-1, {n} articles: "
              f"{'MET' if fast and top_ok else 'NOT MET'} (p50 {up50:.1f}x, p99 {up99:.1f}x, "
              f"top-1 {'>=' if top_ok else '<'} baseline)")


if __name__ == "__main__":
    main()
