#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""logknown.py LOG KNOWN OUT: set a kernel's known reports apart from a guest's log.

KNOWN lists reports of bugs that are not ours (the tree's C iommufd's, for
`make check IMPL=c`), one a line: the kind (only `kmemleak` so far), then the
functions that must all appear in the report's backtrace, then `#` and what the
bug is. Each report of LOG that matches a line is printed, with that line's
description, and left out of OUT, a copy of LOG that logscan.sh then judges.
kmemleak's "N new suspected memory leaks" line goes too when every leak it
counted was a known one. Reports that match no line stay in OUT, so they still
fail the run.
"""
import re
import sys


def read_known(path):
    known = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            spec, _, why = line.partition("#")
            words = spec.split()
            if words and words[0] == "kmemleak":
                known.append((words[1:], why.strip()))
    return known


def kmemleak_blocks(lines):
    """(first, end) index pairs of each kmemleak report ("unreferenced object")."""
    blocks = []
    i = 0
    while i < len(lines):
        if "unreferenced object 0x" in lines[i]:
            j = i + 1
            while (j < len(lines) and "kmemleak: " in lines[j]
                   and "unreferenced object 0x" not in lines[j]
                   and "kmemleak: scan" not in lines[j]
                   and "suspected memory leak" not in lines[j]):
                j += 1
            blocks.append((i, j))
            i = j
        else:
            i += 1
    return blocks


def main():
    log, known_path, out = sys.argv[1:4]
    with open(log, encoding="utf-8", errors="replace") as f:
        lines = f.read().splitlines(keepends=True)
    known = read_known(known_path)
    drop = set()
    blocks = kmemleak_blocks(lines)
    matched = 0
    for first, end in blocks:
        text = "".join(lines[first:end])
        for funcs, why in known:
            if all(re.search(r"\b%s\b" % re.escape(fn), text) for fn in funcs):
                print("known, not ours: %s" % why)
                for line in lines[first:end]:
                    print("  " + line.rstrip("\n"))
                drop.update(range(first, end))
                matched += 1
                break
    if blocks and matched == len(blocks):
        for i, line in enumerate(lines):
            if re.search(r"kmemleak: \d+ new suspected memory leaks", line):
                drop.add(i)
    with open(out, "w", encoding="utf-8") as f:
        f.writelines(line for i, line in enumerate(lines) if i not in drop)
    if matched:
        print("%d known report(s) set apart" % matched)


if __name__ == "__main__":
    main()
