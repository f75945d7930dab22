#!/usr/bin/env python3
"""Helpers of scripts/bench_bot_turn.sh (standard library only).

  create  --base URL --count N --out FILE      pre-create N conversations ("id token" lines)
  check   --base URL --lua bot_turn.lua --out FILE.json
          send every question of bot_turn.lua once, 10 per fresh conversation in the order
          the load uses, and count bot answers, right articles, fallbacks and handoffs
  report  --gateway DIR --baseline DIR [--rounds R]
          the markdown table from the runs' files (DIR/round-K/wrk.txt, load.txt), per round
          and the medians
"""

import argparse
import http.client
import json
import math
import re
import statistics
import sys
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

PER_CONVERSATION = 10


def connection(base):
    url = urllib.parse.urlsplit(base)
    return http.client.HTTPConnection(url.hostname, url.port, timeout=60)


def post(conn, path, body, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    conn.request("POST", path, body=json.dumps(body, ensure_ascii=False).encode(), headers=headers)
    response = conn.getresponse()
    data = response.read()
    return response.status, data


def new_conversation(conn):
    status, data = post(conn, "/v1/conversations", {"customer": {"locale": "zh-CN"}})
    if status != 201:
        raise SystemExit(f"POST /v1/conversations answered {status}: {data[:300]!r}")
    created = json.loads(data)
    return created["conversation"]["id"], created["token"]


def create(args):
    local = threading.local()

    def one(_):
        conn = getattr(local, "conn", None)
        if conn is None:
            conn = local.conn = connection(args.base)
        return new_conversation(conn)

    started = time.monotonic()
    with ThreadPoolExecutor(args.concurrency) as pool:
        rows = list(pool.map(one, range(args.count)))
    with open(args.out, "w", encoding="utf-8") as f:
        for cid, token in rows:
            f.write(f"{cid} {token}\n")
    print(f"created {len(rows)} conversations in {time.monotonic() - started:.1f}s -> {args.out}",
          file=sys.stderr)


def questions_of(lua_path):
    pattern = re.compile(r'^\s*\{"([^"]+)",\s*"([^"]+)"\},\s*$')
    out = []
    with open(lua_path, encoding="utf-8") as f:
        for line in f:
            m = pattern.match(line)
            if m:
                out.append((m.group(1), m.group(2)))
    if not out:
        raise SystemExit(f"no questions found in {lua_path}")
    return out


def check(args):
    questions = questions_of(args.lua)
    conn = connection(args.base)
    result = {"messages": 0, "ok": 0, "with_reply": 0, "answer": 0, "right_article": 0,
              "clarify": 0, "handoff": 0, "other": 0, "non2xx": 0, "not_answered": [],
              "wrong_article": []}
    conversations = math.ceil(len(questions) / PER_CONVERSATION)
    for c in range(conversations):
        cid, token = new_conversation(conn)
        for m in range(PER_CONVERSATION):
            expected, text = questions[(c * PER_CONVERSATION + m) % len(questions)]
            status, data = post(conn, f"/v1/conversations/{cid}/messages",
                                {"text": text, "client_message_id": f"check-{c}-{m}"}, token)
            result["messages"] += 1
            if not 200 <= status < 300:
                result["non2xx"] += 1
                result["not_answered"].append(f"{text} -> HTTP {status}")
                continue
            result["ok"] += 1
            replies = json.loads(data).get("replies") or []
            if not replies:
                result["not_answered"].append(f"{text} -> no reply")
                continue
            result["with_reply"] += 1
            bot = replies[0].get("bot") or {}
            decision = bot.get("decision", "")
            if decision in ("answer", "clarify", "handoff"):
                result[decision] += 1
            else:
                result["other"] += 1
            if decision == "answer":
                if bot.get("article_id") == expected:
                    result["right_article"] += 1
                else:
                    result["wrong_article"].append(f"{text} -> {bot.get('article_id')} "
                                                   f"(expected {expected})")
            else:
                reasons = ",".join(bot.get("reasons") or [])
                result["not_answered"].append(f"{text} -> {decision} {reasons}".rstrip())
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(result, f, ensure_ascii=False, indent=1)
    print(f"{args.name}: {result['messages']} check messages in {conversations} conversations: "
          f"{result['with_reply']} with a bot reply, {result['answer']} answered from the FAQ "
          f"({result['right_article']} with the intended article), {result['clarify']} fallback/"
          f"clarify, {result['handoff']} handoff, {result['non2xx']} non-2xx", file=sys.stderr)
    for line in result["not_answered"]:
        print(f"  not answered: {line}", file=sys.stderr)
    for line in result["wrong_article"]:
        print(f"  other article: {line}", file=sys.stderr)


def bench_line(path):
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.startswith("BENCH requests="):
                return {k: float(v) for k, v in
                        (kv.split("=", 1) for kv in line.split()[1:])}
    raise SystemExit(f"no BENCH line in {path}: did wrk run the script?")


def report(args):
    systems = (("gateway (Rust, actix-web, redb)", args.gateway),
               ("baseline (Python, FastAPI/uvicorn, SQLite)", args.baseline))
    rounds = range(1, args.rounds + 1)
    checks = {}
    for name, d in systems:
        with open(f"{d}/check.json", encoding="utf-8") as f:
            checks[name] = json.load(f)
    rows = []
    for r in rounds:
        for name, d in systems:
            bench = bench_line(f"{d}/round-{r}/wrk.txt")
            check = checks[name]
            with open(f"{d}/round-{r}/load.txt", encoding="utf-8") as f:
                load = f.read().strip()
            rows.append((name, r, bench, check, load))
    print("| system | round | requests/s | p50 ms | p99 ms | non-2xx | socket errors | responses with a bot "
          "reply (of which FAQ answers) / requests, under load | check pass: bot replies / answered (intended article) / fallback / handoff | "
          "load avg before (1, 5, 15 min) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for name, r, b, c, load in rows:
        errors = int(b["err_connect"] + b["err_read"] + b["err_write"] + b["err_timeout"])
        print(f"| {name} | {r} | {b['rps']:.0f} | {b['p50_ms']:.2f} | {b['p99_ms']:.2f} | "
              f"{int(b['non2xx'])} | {errors} | {int(b['with_reply'])} ({int(b['answered'])}) / "
              f"{int(b['requests'])} | "
              f"{c['with_reply']}/{c['messages']} / {c['answer']} ({c['right_article']}) / "
              f"{c['clarify']} / {c['handoff']} | {load} |")
    print()
    def of(system, key):
        return [b[key] for name, _, b, _, _ in rows if name == system[0]]

    gateway, baseline = systems
    g_rps, p_rps = of(gateway, "rps"), of(baseline, "rps")
    g_p99, p_p99 = of(gateway, "p99_ms"), of(baseline, "p99_ms")
    ratios = [g / p if p else float("inf") for g, p in zip(g_rps, p_rps)]
    print("Per round, gateway/baseline requests/s: "
          + ", ".join(f"{x:.2f}x" for x in ratios))
    med_g, med_p = statistics.median(g_rps), statistics.median(p_rps)
    ratio = med_g / med_p if med_p else float("inf")
    print(f"Medians over {len(ratios)} round(s): gateway {med_g:.0f} requests/s, p99 "
          f"{statistics.median(g_p99):.2f} ms; baseline {med_p:.0f} requests/s, p99 "
          f"{statistics.median(p_p99):.2f} ms")
    print(f"Throughput ratio of the medians, gateway/baseline: {ratio:.2f}x (goal >= 10x): "
          f"{'MET' if ratio >= 10 else 'MISSED'}")
    lower = all(g < p for g, p in zip(g_p99, p_p99))
    print(f"p99 lower than the baseline's in every round (goal: lower): "
          f"{'MET' if lower else 'MISSED'}")
    for name, r, b, _, _ in rows:
        if b["wrapped"] > 0:
            print(f"WARNING: {name}, round {r}: {int(b['wrapped'])} requests reused a conversation "
                  "(raise BENCH_CONVERSATIONS)")


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    sub = ap.add_subparsers(dest="command", required=True)
    p = sub.add_parser("create")
    p.add_argument("--base", required=True)
    p.add_argument("--count", type=int, required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--concurrency", type=int, default=8)
    p = sub.add_parser("check")
    p.add_argument("--base", required=True)
    p.add_argument("--lua", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--name", default="system")
    p = sub.add_parser("report")
    p.add_argument("--gateway", required=True)
    p.add_argument("--baseline", required=True)
    p.add_argument("--rounds", type=int, default=1)
    args = ap.parse_args()
    {"create": create, "check": check, "report": report}[args.command](args)


if __name__ == "__main__":
    main()
