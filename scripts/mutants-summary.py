#!/usr/bin/env python3
"""docs/mutants.md's table from cargo-mutants' outcomes: every group's
mutants.out under the directory given (scripts/mutants.sh writes
target/mutants/<group>/mutants.out), counted per file: caught, missed,
unviable, timeout, and the share of viable mutants caught. Missed mutants
are listed with their reasons from docs/mutants-equivalent.txt (a line
"file:line: reason"), or as open holes."""

import collections
import pathlib
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/mutants")
kinds = ["caught", "missed", "unviable", "timeout"]
# A mutant tested again by a later run (a re-check after new tests) takes
# that run's outcome: runs are read oldest first, and a mutant is known by
# its file and description (line numbers move when tests are added).
import re

latest = {}
for out in sorted(root.glob("*/mutants.out"), key=lambda p: p.stat().st_mtime):
    seen = collections.defaultdict(list)
    for kind in kinds:
        f = out / f"{kind}.txt"
        if not f.exists():
            continue
        for line in f.read_text().splitlines():
            if line.strip():
                key = re.sub(r":\d+:\d+:", ":", line.strip(), count=1)
                seen[key].append((kind, line.strip()))
    latest.update(seen)
# docs/mutants-equivalent.txt: "file:line: reason" for every mutant on the
# line, or "file:line [replace < with <=]: reason" for the mutants whose
# description starts with the bracketed words.
REASONS = {}
equiv_file = pathlib.Path("docs/mutants-equivalent.txt")
if equiv_file.exists():
    for row in equiv_file.read_text().splitlines():
        m = re.match(r"^(\S+?:\d+)(?: \[(.+?)\])?: (.*)$", row)
        if m and not row.startswith("#"):
            REASONS[(m.group(1), m.group(2))] = m.group(3).strip()


def reason(line):
    parts = line.split(":", 3)
    where, what = ":".join(parts[:2]), parts[3].strip() if len(parts) > 3 else ""
    for (at, words), why in REASONS.items():
        if at == where and words and what.startswith(words):
            return why
    return REASONS.get((where, None), "")


# A missed mutant whose code is gone no longer counts; one a later test
# catches (checked by hand, the file not re-run) counts as caught.
counts = collections.defaultdict(lambda: collections.Counter())
missed, gone = [], []
for key, results in sorted(latest.items()):
    path = key.split(":", 1)[0]
    for kind, line in results:
        if kind == "missed" and reason(line).startswith("gone:"):
            gone.append(line)
            continue
        if kind == "missed" and reason(line).startswith("caught since:"):
            kind = "later"
        elif kind == "missed" and reason(line).startswith("equivalent"):
            kind = "equivalent"
        counts[path][kind] += 1
        if kind in ("missed", "equivalent", "later"):
            missed.append(line)

print("# Mutation testing: what the tests catch\n")
print("`scripts/mutants.sh` runs [cargo-mutants](https://mutants.rs) on racegate's")
print("cores, each file against the tests that guard it; this table is")
print("`scripts/mutants-summary.py`'s, from the last run's outcomes.\n")
print("- *caught*: a test failed on the mutant in the run;")
print("- *caught since*: missed in the run, then a new test was written for it and")
print("  the mutant applied by hand fails it (the file not re-run yet);")
print("- *timeout*: the mutant hung the tests (a loop that no longer ends), caught;")
print("- *equivalent*: missed, and no test can catch it: the reason is listed below;")
print("- *caught %* is of the viable mutants, equivalent ones left out.\n")
groups = sorted(p.parent.name for p in root.glob("*/mutants.out"))
print(f"Groups in these outcomes: {', '.join(groups)}.\n")
# scripts/mutants.sh's groups (its default list) that have no outcomes yet.
script = pathlib.Path("scripts/mutants.sh").read_text()
listed = re.search(r"groups=\((history[^)]*)\)", script)
missing = [g for g in (listed.group(1).split() if listed else []) if g not in groups]
if missing:
    print(f"**Not run yet:** {', '.join(missing)} (their files are not in the table).\n")
print("| file | caught | caught since | timeout | missed | equivalent | unviable | caught % |")
print("|---|---|---|---|---|---|---|---|")
for path in sorted(counts):
    c = counts[path]
    # Equivalent mutants cannot be caught: they are out of the share.
    viable = c["caught"] + c["later"] + c["timeout"] + c["missed"]
    share = f"{100 * (c['caught'] + c['later'] + c['timeout']) / viable:.0f} %" if viable else "–"
    print(
        f"| `{path}` | {c['caught']} | {c['later']} | {c['timeout']} | {c['missed']} "
        f"| {c['equivalent']} | {c['unviable']} | {share} |"
    )
print()
if gone:
    print("## Removed by simplifying the code\n")
    for line in gone:
        print(f"- `{line}` — {reason(line)[len('gone:'):].strip()}")
    print()
if missed:
    print("## Mutants the run missed, and what became of each\n")
    for line in missed:
        why = reason(line) or "**open**: no test catches it yet"
        print(f"- `{line}` — {why}")
else:
    print("No mutant was missed.")
