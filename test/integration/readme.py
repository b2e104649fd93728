#!/usr/bin/env python3
r"""Run the SQL examples of README.md in order and compare the output they show.

The README is a doctest: a newcomer pastes its examples into psql one after
the other, so every ```sql block must run, in order, in one psql session
against the Genie emulator, and where the README shows psql's output, psql
must print exactly that.

Conventions (also in test/README.md):

- A ```sql block is run as written, all of it: output does not go inside it
  (a line such as "(1 row)", "-[ RECORD 1 ]", "NOTICE:  " in one is an error,
  and the block is not run); psql's expanded form is asked for with \gx.
- A plain ``` block directly after a ```sql block (nothing but blank lines
  between them) is that block's output: what psql prints for the whole block
  (psql -X -q, stderr with stdout, so NOTICE/ERROR lines appear where psql
  prints them; psql's blank line after a result is kept between two results).
  Trailing spaces on a line and blank lines at the start and end of the block
  do not count.
- A ```sql block without an output block must run without an error (ERROR,
  FATAL, PANIC or a psql error); what it prints is not compared.
- Every other block needs a language tag (bash, python, ini, text, ...): those
  are not run.  A plain ``` block that is not the output of a ```sql block is
  an error of the README, so nothing that looks like an example goes untested
  by accident.
- A comment on the line before a block's opening fence (blank lines between
  are allowed; text after the word, such as a reason, is free) changes how it
  is run:
    <!-- readme-test: skip REASON -->    not run (nor its output compared);
                                          the reason is printed
    <!-- readme-test: defer -->          run after all other blocks (for an
                                          example shown before the set-up it
                                          needs, like the opening one)
    <!-- readme-test: mask numbers -->   numbers vary from run to run (counters,
                                          times): every number of the shown and
                                          the actual output becomes N, and tables
                                          are compared cell by cell, their
                                          alignment ignored
- Substitutions, made in the SQL before it runs: the README's example
  workspace 'https://adb-1234567890123456.7.azuredatabricks.net' and the
  by-hand emulator address 'http://127.0.0.1:8765' become the emulator's URL
  (--url); the token 'dapi...' becomes the emulator's (--token).  In psql's
  output the emulator's URL is shown as the README's workspace.  Nothing else
  of an example is changed: the README's space id is the emulator's.

    python3 test/integration/readme.py --url URL --token TOKEN [README.md]

psql comes from PATH and connects with the PG* environment.  Prints one
"ok"/"not ok" line per block (with a diff for a mismatch) and exits 1 when a
block fails.  Standard library only.
"""

import argparse
import difflib
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NAME = "README.md"      # the file's name in messages

README_HOST = "https://adb-1234567890123456.7.azuredatabricks.net"
BY_HAND_HOST = "http://127.0.0.1:8765"
README_TOKEN = "'dapi...'"

MARKER_RE = re.compile(r"^\s*<!--\s*readme-test:\s*(\S+)\s*(.*?)\s*-->\s*$")
FENCE_RE = re.compile(r"^```(\S*)\s*$")
ERROR_RE = re.compile(r"^(ERROR|FATAL|PANIC):|^(psql: )?error:|^invalid command ")
BLOCK_MARK = "@@readme-test block %d@@"
BLOCK_MARK_RE = re.compile(r"^@@readme-test block (-?\d+)@@$")
NUMBER_RE = re.compile(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?")
SEPARATOR_RE = re.compile(r"^-+(\+-+)*$")
# lines psql prints, which have no place in a ```sql block
PSQL_OUTPUT_RE = re.compile(r"^\(\d+ rows?\)$|^-\[ RECORD \d+ \]|^(NOTICE|WARNING|ERROR|DETAIL|HINT):  |^-+\+-+")


class Block:
    def __init__(self, line, lang, text, marker, section):
        self.line = line            # line of the opening fence (1-based)
        self.lang = lang
        self.text = text            # lines between the fences
        self.marker = marker        # (word, rest) of a readme-test comment, or None
        self.section = section      # the heading above the block
        self.output = None          # the output Block of a sql block
        self.index = None

    def where(self):
        return "%s:%d (%s)" % (NAME, self.line, self.section)


def parse(path):
    """The fenced blocks of the README, with their markers and output blocks."""
    with open(path, encoding="utf-8") as f:
        lines = f.read().split("\n")
    blocks, problems = [], []
    section = "top"
    marker = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            section = line.lstrip("#").strip()
        m = MARKER_RE.match(line)
        if m:
            marker = (m.group(1), m.group(2))
            i += 1
            continue
        fence = FENCE_RE.match(line)
        if not fence:
            if line.strip():
                marker = None
            i += 1
            continue
        start = i
        i += 1
        body = []
        while i < len(lines) and not lines[i].startswith("```"):
            body.append(lines[i])
            i += 1
        if i == len(lines):
            problems.append("%s:%d: the block is never closed" % (NAME, start + 1))
            break
        blocks.append(Block(start + 1, fence.group(1), body, marker, section))
        marker = None
        i += 1
    # pair each sql block with a plain block right after it
    for n, b in enumerate(blocks):
        b.index = n
    for n, b in enumerate(blocks):
        if b.lang != "":
            continue
        prev = blocks[n - 1] if n > 0 else None
        if prev is not None and prev.lang == "sql" and prev.output is None and b.marker is None:
            # only blank lines between the closing fence of prev and this one
            end_prev = prev.line + len(prev.text) + 1
            between = lines[end_prev:b.line - 1]
            if all(not s.strip() for s in between):
                prev.output = b
                continue
        problems.append("%s: a block without a language tag that is not the output of a ```sql block "
                        "right above it; tag it (sql to run it; text, ini, ... not to)" % b.where())
    for b in blocks:
        if b.marker and b.marker[0] not in ("skip", "defer", "mask"):
            problems.append("%s: unknown readme-test marker %r" % (b.where(), b.marker[0]))
        if b.marker and b.marker[0] == "mask" and b.marker[1].split(" ")[0] != "numbers":
            problems.append("%s: unknown mask %r (known: numbers)" % (b.where(), b.marker[1]))
    return blocks, problems


def substitute(text, url, token):
    text = text.replace(README_HOST, url).replace(BY_HAND_HOST, url)
    return text.replace(README_TOKEN, "'%s'" % token)


def last_statement_ended(lines):
    """Does the block end its last statement (;) or end with a psql command?"""
    for line in reversed(lines):
        s = line.strip()
        if not s or s.startswith("--"):
            continue
        s = re.sub(r"\s--.*$", "", s).rstrip()
        return s.endswith(";") or s.startswith("\\") or re.search(r"\\g\w*(\s.*)?$", s) is not None
    return True


def clean(lines):
    out = [l.rstrip() for l in lines]
    while out and not out[0]:
        out.pop(0)
    while out and not out[-1]:
        out.pop()
    return out


def mask_numbers(lines):
    out = []
    for l in lines:
        l = NUMBER_RE.sub("N", l)
        if SEPARATOR_RE.match(l.strip()):
            l = "---"
        elif "|" in l:
            l = " | ".join(c.strip() for c in l.split("|"))
        else:
            l = " ".join(l.split())
        out.append(l)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True, help="the emulator's URL")
    ap.add_argument("--token", required=True, help="the emulator's token")
    ap.add_argument("--timeout", type=float, default=600, help="seconds for the whole run")
    ap.add_argument("readme", nargs="?", default=os.path.join(ROOT, "README.md"))
    args = ap.parse_args()
    global NAME
    NAME = os.path.basename(args.readme)

    blocks, problems = parse(args.readme)
    for p in problems:
        print("not ok - %s" % p)
    sql = [b for b in blocks if b.lang == "sql"]
    run = [b for b in sql if not (b.marker and b.marker[0] == "skip")]
    run = [b for b in run if not (b.marker and b.marker[0] == "defer")] + \
          [b for b in run if b.marker and b.marker[0] == "defer"]
    for b in sql:
        if b.marker and b.marker[0] == "skip":
            print("# skipped: %s: %s" % (b.where(), b.marker[1] or "(no reason given)"))
    print("# %d blocks, %d sql (%d run, %d with shown output), %d other"
          % (len(blocks), len(sql), len(run), sum(1 for b in run if b.output), len(blocks) - len(sql)))

    failures = len(problems)
    script = []
    for b in list(run):
        shown = [l for l in b.text if PSQL_OUTPUT_RE.match(l)]
        if shown:
            print("not ok - %s: psql output inside a ```sql block (%r); put it in a plain ``` block "
                  "right after the block (not run)" % (b.where(), shown[0]))
            failures += 1
            run.remove(b)
            continue
        if not last_statement_ended(b.text):
            print("not ok - %s: its last statement has no ';' (psql would wait for more)" % b.where())
            failures += 1
        script.append("\\echo '%s'" % (BLOCK_MARK % b.index))
        script.extend(substitute(l, args.url, args.token) for l in b.text)
        # end a statement left open, so it cannot swallow the next block
        script.append(";")
    script.append("\\echo '%s'" % (BLOCK_MARK % -1))
    try:
        proc = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=0"],
                              input="\n".join(script) + "\n", stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, universal_newlines=True,
                              timeout=args.timeout)
        out, rc = proc.stdout, proc.returncode
    except subprocess.TimeoutExpired as e:
        out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        rc = None
        print("not ok - psql did not finish within %g s" % args.timeout)
        failures += 1

    # split psql's output at the markers
    outputs, current = {}, None
    for line in out.split("\n"):
        m = BLOCK_MARK_RE.match(line)
        if m:
            current = int(m.group(1))
            outputs[current] = []
        elif current is not None:
            outputs[current].append(line)
        elif line.strip():
            print("# psql before the first block: %s" % line)
    back = {args.url: README_HOST}
    for b in run:
        if b.index not in outputs:
            print("not ok - %s: no output of it was seen (psql stopped, or a block before it left "
                  "a quote or a statement open)" % b.where())
            failures += 1
            continue
        actual = outputs[b.index]
        for k, v in back.items():
            actual = [l.replace(k, v) for l in actual]
        actual = clean(actual)
        if b.output is None:
            errors = [l for l in actual if ERROR_RE.match(l)]
            if errors:
                print("not ok - %s: an error (the README shows no output for this block)" % b.where())
                for l in actual:
                    print("#   %s" % l)
                failures += 1
            else:
                print("ok - %s runs" % b.where())
            continue
        expected = clean(b.output.text)
        if b.marker and b.marker[0] == "mask":
            exp_cmp, act_cmp = mask_numbers(expected), mask_numbers(actual)
        else:
            exp_cmp, act_cmp = expected, actual
        if exp_cmp == act_cmp:
            print("ok - %s shows psql's output" % b.where())
            continue
        failures += 1
        print("not ok - %s: psql's output differs from the output shown at line %d"
              % (b.where(), b.output.line))
        for d in difflib.unified_diff(expected, actual, "%s:%d (shown)" % (NAME, b.output.line),
                                      "psql's output", lineterm="", n=2):
            print("#   %s" % d)
    if rc not in (0, None):
        print("not ok - psql exited with status %d" % rc)
        failures += 1
    if failures:
        print("%d check(s) failed" % failures)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
