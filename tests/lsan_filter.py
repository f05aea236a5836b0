"""lsan_filter.py — reads the AddressSanitizer / LeakSanitizer reports of a run (the files of
ASAN_OPTIONS=log_path=PREFIX) and fails when one concerns xfmr.

Used by tests/test_python.sh: python3 is not built with ASan and leaves memory allocated at exit
(its own objects, numpy's ufunc tables), which LeakSanitizer reports too. A leak counts as xfmr's
when a frame of its allocation stack is in libxfmr (the module, or a source file of this
repository's src/ or tools/) or in a library only xfmr uses in that process (cJSON, utf8proc,
PCRE2, libxml2, SQLite, libpq); every other sanitizer error (use-after-free, overflow, UB...)
counts whatever its stack.

usage: python3 tests/lsan_filter.py SOURCE_DIR PREFIX   exit 0 clean, 1 findings.
"""
import glob
import re
import sys

src, prefix = sys.argv[1].rstrip("/"), sys.argv[2]
ours = re.compile(r"libxfmr|" + re.escape(src) + r"/(src|tools)/|libcjson|libutf8proc|libpcre2|libxml2|"
                  r"libsqlite3|libpq\.")
findings, foreign = [], 0
for path in sorted(glob.glob(prefix + ".*")):
    text = open(path, errors="replace").read()
    for block in re.split(r"\n(?==+\n==\d+==ERROR)", text):
        if "ERROR: LeakSanitizer" not in block and "ERROR:" in block:
            findings.append(f"{path}:\n{block}")
            continue
        for leak in re.split(r"\n(?=(?:Direct|Indirect) leak of)", block):
            if not leak.startswith(("Direct leak", "Indirect leak")):
                continue
            if ours.search(leak):
                findings.append(f"{path}:\n{leak}")
            else:
                foreign += 1
for f in findings:
    print(f, file=sys.stderr)
print(f"lsan_filter: {len(findings)} finding(s) in xfmr; {foreign} leak record(s) of the interpreter and "
      "its modules ignored")
sys.exit(1 if findings else 0)
