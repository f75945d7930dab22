#!/usr/bin/env python3
"""The Python baseline of scripts/bench_bot_turn.sh: one bot turn over HTTP, the same job as the
gateway's `POST /v1/conversations/{id}/messages` while the bot holds the conversation.

Run it with uvicorn, one worker per core, like the gateway's one actix worker per core:

    python baseline_service.py prepare --kb articles.json --data models/data --state DIR \
        --model-cache target/bench-baseline-cache/intent-KEY.joblib
    BASELINE_STATE=DIR uvicorn baseline_service:app --workers 2 --no-access-log ...

`prepare` trains the intent model once (TF-IDF over character n-grams `char_wb` 1-4 with
sublinear tf + LogisticRegression, the pipeline of models/baseline/baseline.py, on every line of
models/data/intent_zh.tsv and intent_en.tsv, C fixed at 10 rather than chosen on a validation
split: the benchmark measures speed, not accuracy), caches it with joblib, copies the FAQ and
creates the SQLite schema. Each uvicorn worker then loads the model, the FAQ (BM25 indexes) and
jieba's dictionary once at startup; no request trains, loads or sleeps.

The turn, per request:
  1. the conversation row by id (404), the bearer token's SHA-256 against the stored hash (401);
  2. a repeated `client_message_id` (a read) returns the original message and the bot reply
     that followed it and stores nothing;
  3. the bot: normalise (NFKC, which folds full-width forms, lower case, collapsed whitespace;
     Traditional -> Simplified is SKIPPED, the gateway does it with fast2s), the intent model's
     prediction, jieba tokens -> BM25Okapi over the question, similar phrasings and answer of
     every article of the message's language (CJK characters: the zh-CN articles, else en);
     the top article is the answer when its BM25 score is at least BASELINE_BM25_THRESHOLD,
     else a fallback line ("clarify");
  4. one write transaction (BEGIN IMMEDIATE, committed: with `synchronous=FULL` in WAL mode the
     WAL is fsynced before the commit returns, like the gateway's redb commit) checks for a
     retry again, then stores the customer's message with the next `seq`, the bot's reply and
     the conversation's `updated_at`: one durable write per turn, as the gateway stores a bot
     turn. BASELINE_WRITES_PER_TURN=2 stores the customer's message in a transaction of its own
     before the bot instead (the gateway's design before it stored a turn in one write);
  5. 201 {"message", "replies": [bot message], "conversation"}, the gateway's shape.

What the baseline does NOT do and the gateway does: the sentiment model, entity extraction,
handoff rules, rate limits, the WebSocket/webhook fan-out, metrics. The comparison favours the
baseline there.

Storage: one SQLite file shared by both worker processes, WAL journal, `synchronous` from
BASELINE_SQLITE_SYNCHRONOUS (FULL by default: durable at commit, as the gateway is),
busy_timeout 30 s. Handlers are plain `def`, so FastAPI runs them on its thread pool (40
threads per worker) with one SQLite connection per thread: sqlite3 releases the GIL while it
waits for the lock or the disk, so one request's fsync does not stall the worker.
"""

import hashlib
import hmac
import json
import os
import re
import secrets
import shutil
import sqlite3
import sys
import threading
import unicodedata
import uuid
from datetime import datetime, timezone
from typing import Optional

import jieba

STATE = os.environ.get("BASELINE_STATE", "")
SYNCHRONOUS = os.environ.get("BASELINE_SQLITE_SYNCHRONOUS", "FULL").upper()
THRESHOLD = float(os.environ.get("BASELINE_BM25_THRESHOLD", "4.0"))
# 1 (default): the customer's message and the bot's answer in one write transaction after the
# bot, as the gateway stores a bot turn; 2: the message before the bot, the answer after it.
WRITES_PER_TURN = int(os.environ.get("BASELINE_WRITES_PER_TURN", "1"))
INTENT_C = 10.0
MAX_TEXT = 4000

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id TEXT PRIMARY KEY,
    token_hash TEXT NOT NULL,
    state TEXT NOT NULL,
    customer TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS messages (
    conversation_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    id TEXT NOT NULL,
    role TEXT NOT NULL,
    text TEXT NOT NULL,
    created_at TEXT NOT NULL,
    client_message_id TEXT,
    bot TEXT,
    PRIMARY KEY (conversation_id, seq)
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS messages_client_id
    ON messages (conversation_id, client_message_id) WHERE client_message_id IS NOT NULL;
"""


# ---------------------------------------------------------------- text


_SPACES = re.compile(r"\s+")
_CJK = re.compile(r"[\u3400-\u9fff]")


def normalize(text: str) -> str:
    return _SPACES.sub(" ", unicodedata.normalize("NFKC", text).lower()).strip()


def tokens(normalized: str) -> list:
    return [t for t in jieba.lcut(normalized) if any(ch.isalnum() for ch in t)]


def language(normalized: str) -> str:
    return "zh" if _CJK.search(normalized) else "en"


# ---------------------------------------------------------------- prepare (once)


def read_intents(data_dir: str):
    texts, labels = [], []
    for name in ("intent_zh.tsv", "intent_en.tsv"):
        with open(os.path.join(data_dir, name), encoding="utf-8") as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                label, text = line.rstrip("\n").split("\t", 1)
                texts.append(normalize(text))
                labels.append(label)
    return texts, labels


def prepare(kb: str, data_dir: str, state: str, model_cache: str) -> None:
    import joblib
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    os.makedirs(state, exist_ok=True)
    model_path = model_cache
    if not os.path.exists(model_path):
        texts, labels = read_intents(data_dir)
        pipeline = make_pipeline(
            TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True),
            LogisticRegression(C=INTENT_C, max_iter=5000),
        )
        pipeline.fit(texts, labels)
        os.makedirs(os.path.dirname(os.path.abspath(model_path)), exist_ok=True)
        joblib.dump(pipeline, model_path + ".tmp")
        os.replace(model_path + ".tmp", model_path)
        print(f"trained the intent model on {len(texts)} lines -> {model_path}", file=sys.stderr)
    else:
        print(f"intent model cached in {model_path}", file=sys.stderr)
    shutil.copyfile(model_path, os.path.join(state, "intent.joblib"))
    shutil.copyfile(kb, os.path.join(state, "articles.json"))
    db = sqlite3.connect(os.path.join(state, "baseline.sqlite3"))
    db.execute("PRAGMA journal_mode=WAL")
    db.executescript(SCHEMA)
    db.close()


# ---------------------------------------------------------------- the service

if __name__ != "__main__":
    import joblib
    from fastapi import FastAPI, Header
    from fastapi.responses import Response
    from pydantic import BaseModel, Field
    from rank_bm25 import BM25Okapi

    jieba.setLogLevel(60)
    jieba.initialize()
    INTENT = joblib.load(os.path.join(STATE, "intent.joblib"))
    INTENT_LABELS = list(INTENT.classes_)

    class Faq:
        """The articles of one language and their BM25 index."""

        def __init__(self, articles):
            self.articles = articles
            self.index = BM25Okapi([
                tokens(normalize(" ".join([a["question"], *a.get("similar", []), a["answer"]])))
                for a in articles
            ])

        def best(self, query_tokens):
            if not query_tokens:
                return None, 0.0
            scores = self.index.get_scores(query_tokens)
            i = int(scores.argmax())
            return self.articles[i], float(scores[i])

    with open(os.path.join(STATE, "articles.json"), encoding="utf-8") as f:
        _articles = [a for a in json.load(f) if a.get("enabled", True)]
    FAQ = {
        "zh": Faq([a for a in _articles if a["locale"].startswith("zh")]),
        "en": Faq([a for a in _articles if not a["locale"].startswith("zh")]),
    }
    FALLBACK = {
        "zh": "抱歉，这个问题我还不会回答。您可以换个说法，或者输入“转人工”联系客服。",
        "en": "Sorry, I don't have an answer for that yet. Try other words, or type \"agent\".",
    }
    DB_PATH = os.path.join(STATE, "baseline.sqlite3")
    _local = threading.local()

    def db() -> sqlite3.Connection:
        conn = getattr(_local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(DB_PATH, isolation_level=None, timeout=30.0,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={SYNCHRONOUS}")
            conn.execute("PRAGMA busy_timeout=30000")
            _local.conn = conn
        return conn

    def now() -> str:
        return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")

    def json_response(status: int, body) -> Response:
        return Response(json.dumps(body, ensure_ascii=False, separators=(",", ":")),
                        status_code=status, media_type="application/json")

    def error(status: int, code: str, message: str) -> Response:
        return json_response(status, {"error": {"code": code, "message": message}})

    def message_view(conversation_id, row) -> dict:
        seq, mid, role, text, created_at, client_id, bot = row
        out = {"id": mid, "conversation_id": conversation_id, "seq": seq,
               "author": {"role": role} if role != "bot" else {"role": "bot", "name": "小助手"},
               "text": text, "created_at": created_at}
        if client_id is not None:
            out["client_message_id"] = client_id
        if bot is not None:
            out["bot"] = json.loads(bot)
        return out

    def conversation_view(cid, state, customer, created_at, updated_at) -> dict:
        return {"id": cid, "state": state, "customer": json.loads(customer),
                "created_at": created_at, "updated_at": updated_at}

    def bot_turn(text: str) -> tuple:
        normalized = normalize(text)
        lang = language(normalized)
        probabilities = INTENT.predict_proba([normalized])[0]
        best = int(probabilities.argmax())
        intent, confidence = INTENT_LABELS[best], float(probabilities[best])
        article, score = FAQ[lang].best(tokens(normalized))
        if article is not None and score >= THRESHOLD:
            meta = {"decision": "answer", "article_id": article["id"], "intent": intent,
                    "confidence": round(score, 4), "intent_confidence": round(confidence, 4),
                    "reasons": []}
            return article["answer"], meta
        meta = {"decision": "clarify", "intent": intent, "confidence": round(score, 4),
                "intent_confidence": round(confidence, 4), "reasons": []}
        return FALLBACK[lang], meta

    class CustomerIn(BaseModel):
        external_id: Optional[str] = Field(default=None, max_length=128)
        name: Optional[str] = Field(default=None, max_length=128)
        locale: Optional[str] = None
        vip: Optional[bool] = None

    class CreateIn(BaseModel):
        customer: CustomerIn = CustomerIn()
        channel: Optional[str] = None
        context: Optional[dict] = None

    class MessageIn(BaseModel):
        text: str = Field(min_length=1, max_length=MAX_TEXT)
        client_message_id: str = Field(min_length=1, max_length=128)

    app = FastAPI(title="bot-turn baseline", docs_url=None, redoc_url=None, openapi_url=None)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    @app.post("/v1/conversations", status_code=201)
    def create_conversation(body: Optional[CreateIn] = None):
        body = body or CreateIn()
        cid = f"conv_{uuid.uuid4().hex}"
        token = secrets.token_urlsafe(32)
        at = now()
        customer = {"locale": body.customer.locale or "zh-CN", "verified": False}
        if body.customer.name:
            customer["name"] = body.customer.name
        customer_json = json.dumps(customer, ensure_ascii=False)
        conn = db()
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(
                "INSERT INTO conversations VALUES (?, ?, 'bot', ?, ?, ?)",
                (cid, hashlib.sha256(token.encode()).hexdigest(), customer_json, at, at))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return json_response(201, {
            "conversation": conversation_view(cid, "bot", customer_json, at, at),
            "token": token})

    @app.post("/v1/conversations/{cid}/messages", status_code=201)
    def post_message(cid: str, body: MessageIn, authorization: Optional[str] = Header(None)):
        conn = db()
        row = conn.execute(
            "SELECT token_hash, state, customer, created_at FROM conversations WHERE id = ?",
            (cid,)).fetchone()
        if row is None:
            return error(404, "not_found", "conversation not found")
        token_hash, state, customer, created_at = row
        if not authorization or not authorization.startswith("Bearer "):
            return error(401, "unauthorized", "missing bearer token")
        presented = hashlib.sha256(authorization[7:].strip().encode()).hexdigest()
        if not hmac.compare_digest(presented, token_hash):
            return error(401, "unauthorized", "invalid token")
        if state == "closed":
            return error(409, "conversation_ended", "this conversation was closed")

        columns = "seq, id, role, text, created_at, client_message_id, bot"

        def find_original():
            """A repeated `client_message_id`: the original and the bot replies after it."""
            original = conn.execute(
                f"SELECT {columns} FROM messages WHERE conversation_id = ? AND client_message_id = ?",
                (cid, body.client_message_id)).fetchone()
            if original is None:
                return None
            following = conn.execute(
                f"SELECT {columns} FROM messages WHERE conversation_id = ? AND seq > ? "
                "ORDER BY seq", (cid, original[0])).fetchall()
            updated_at = conn.execute(
                "SELECT updated_at FROM conversations WHERE id = ?", (cid,)).fetchone()[0]
            replies = []
            for m in following:
                if m[2] != "bot":
                    break
                replies.append(message_view(cid, m))
            return json_response(201, {
                "message": message_view(cid, original), "replies": replies,
                "conversation": conversation_view(cid, state, customer, created_at, updated_at)})

        def append(conn, role, text, at, client_message_id, meta):
            seq = conn.execute(
                "SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE conversation_id = ?",
                (cid,)).fetchone()[0]
            message = (seq, f"msg_{uuid.uuid4().hex}", role, text, at, client_message_id,
                       None if meta is None else json.dumps(meta, ensure_ascii=False))
            conn.execute("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (cid, *message))
            return message

        def transaction(work):
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work()
                conn.execute("COMMIT")
                return result
            except BaseException:
                conn.execute("ROLLBACK")
                raise

        if WRITES_PER_TURN == 1:
            # Like the gateway: a retry is found by a read; the bot answers; then the customer's
            # message and the answer are stored in one transaction that checks for the retry again.
            repeat = find_original()
            if repeat is not None:
                return repeat
            message_at = now()
            reply_text, meta = bot_turn(body.text)

            def store_both():
                repeat = find_original()
                if repeat is not None:
                    return repeat, None, None
                message = append(conn, "customer", body.text, message_at,
                                 body.client_message_id, None)
                at = now()
                reply = append(conn, "bot", reply_text, at, None, meta)
                conn.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (at, cid))
                return None, message, reply

            repeat, message, reply = transaction(store_both)
            if repeat is not None:
                return repeat
        else:
            # Two transactions: the customer's message is durable before the bot answers.
            def store_message():
                repeat = find_original()
                if repeat is not None:
                    return repeat, None
                return None, append(conn, "customer", body.text, now(),
                                    body.client_message_id, None)

            repeat, message = transaction(store_message)
            if repeat is not None:
                return repeat
            reply_text, meta = bot_turn(body.text)

            def store_reply():
                at = now()
                reply = append(conn, "bot", reply_text, at, None, meta)
                conn.execute("UPDATE conversations SET updated_at = ? WHERE id = ?", (at, cid))
                return reply

            reply = transaction(store_reply)
        return json_response(201, {
            "message": message_view(cid, message),
            "replies": [message_view(cid, reply)],
            "conversation": conversation_view(cid, state, customer, created_at, reply[4])})


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("prepare", help="train and cache the intent model, copy the FAQ, create the schema")
    p.add_argument("--kb", required=True, help="the FAQ articles (JSON array, GET /v1/kb/export)")
    p.add_argument("--data", required=True, help="models/data (intent_zh.tsv, intent_en.tsv)")
    p.add_argument("--state", required=True, help="where the model, FAQ and database go")
    p.add_argument("--model-cache", required=True,
                   help="the trained intent model (joblib); trained and written when missing")
    args = parser.parse_args()
    prepare(args.kb, args.data, args.state, args.model_cache)
