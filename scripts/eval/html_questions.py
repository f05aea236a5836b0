#!/usr/bin/env python3
"""html_questions.py — a question set written from the structure of real HTML manuals (the Python
3.11 docs from Debian's python3.11-doc), each question with the page section that answers it.

How the questions are made (by script, from the DOM; Python's html.parser builds the tree):
  * API definitions: every <dl class="py function|method|class|exception|data|attribute"> entry
    whose <dt> has an id (e.g. "os.path.join") becomes a question from its name and kind:
        function/method -> "What does join do in os.path?"
        class/exception -> "What is the X class in module for?" / "When is X raised in module?"
        data/attribute  -> "What is X in module?"
    answered by that entry's <dd> (its description);
  * sections: every <section id=...> with an <h2>/<h3> heading becomes "module: <heading>?",
    answered by the section's first paragraph.
The answer is identified by the page and the first ANSWER_WORDS words of the answer text
(normalised: lowercase, words of letters and digits). A retrieved chunk is right when it comes
from that page and its text contains those words in order. Questions whose answer snippet is
ambiguous (appears twice in its page) or too short are dropped. The question never contains the
answer text; only the name or heading it was made from.

usage: html_questions.py PAGES_DIR OUT.jsonl [MAX]   (writes {"query", "page", "snippet", "kind"})
"""
import html.parser
import json
import os
import random
import re
import sys

ANSWER_WORDS = 8
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source", "track", "wbr"}


class Node:
    def __init__(self, tag, attrs, parent):
        self.tag, self.attrs, self.parent, self.children = tag, dict(attrs), parent, []

    def text(self):
        out = []

        def rec(n):
            for c in n.children:
                if isinstance(c, str):
                    out.append(c)
                elif c.tag not in ("script", "style") and "headerlink" not in c.attrs.get("class", ""):
                    rec(c)
        rec(self)
        return " ".join("".join(out).split())

    def find_all(self, pred):
        for c in self.children:
            if isinstance(c, Node):
                if pred(c):
                    yield c
                yield from c.find_all(pred)


class Tree(html.parser.HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {}, None)
        self.cur = self.root

    def handle_starttag(self, tag, attrs):
        n = Node(tag, attrs, self.cur)
        self.cur.children.append(n)
        if tag not in VOID:
            self.cur = n

    def handle_endtag(self, tag):
        n = self.cur
        while n is not self.root and n.tag != tag:
            n = n.parent
        if n is not self.root:
            self.cur = n.parent

    def handle_data(self, data):
        self.cur.children.append(data)


def words(s):
    return re.findall(r"[a-z0-9]+", s.lower())


def snippet_of(text):
    w = words(text)
    return " ".join(w[:ANSWER_WORDS]) if len(w) >= ANSWER_WORDS else None


def first_paragraph(node):
    for p in node.find_all(lambda n: n.tag == "p"):
        t = p.text()
        if len(words(t)) >= ANSWER_WORDS:
            return t
    return None


def questions_of(path):
    t = Tree()
    t.feed(open(path, encoding="utf-8", errors="replace").read())
    module = os.path.basename(path)[:-5]
    page_words = " ".join(words(t.root.text()))
    out = []
    kinds = ("function", "method", "class", "exception", "data", "attribute")
    for dl in t.root.find_all(lambda n: n.tag == "dl" and "py" in n.attrs.get("class", "").split()):
        cls = dl.attrs.get("class", "").split()
        kind = next((k for k in kinds if k in cls), None)
        if not kind:
            continue
        kids = [c for c in dl.children if isinstance(c, Node)]
        for i, dt in enumerate(kids):
            if dt.tag != "dt" or not dt.attrs.get("id") or i + 1 >= len(kids) or kids[i + 1].tag != "dd":
                continue
            full = dt.attrs["id"]
            name = full.rsplit(".", 1)[-1]
            where = full.rsplit(".", 1)[0] if "." in full else module
            q = {"function": f"What does {name} do in {where}?", "method": f"What does the {name} method of {where} do?",
                 "class": f"What is the {name} class in {where} for?", "exception": f"When is {name} raised in {where}?",
                 "data": f"What is {name} in {where}?", "attribute": f"What is the {name} attribute of {where}?"}[kind]
            ans = first_paragraph(kids[i + 1]) or kids[i + 1].text()
            out.append((q, ans, "definition"))
    for sec in t.root.find_all(lambda n: n.tag == "section" and n.attrs.get("id")):
        heads = [c for c in sec.children if isinstance(c, Node) and c.tag in ("h2", "h3")]
        if not heads:
            continue
        title = heads[0].text().rstrip("¶").strip()
        ans = first_paragraph(sec)
        if title and ans:
            out.append((f"{module}: {title}?", ans, "section"))
    res = []
    for q, ans, kind in out:
        s = snippet_of(ans) if ans else None
        if s and page_words.count(s) == 1:
            res.append({"query": q, "page": os.path.basename(path), "snippet": s, "kind": kind})
    return res


def main():
    pages, out = sys.argv[1], sys.argv[2]
    cap = int(sys.argv[3]) if len(sys.argv) > 3 else 400
    qs = []
    for f in sorted(os.listdir(pages)):
        if f.endswith(".html"):
            qs += questions_of(os.path.join(pages, f))
    random.Random(1234).shuffle(qs)
    qs = qs[:cap]
    with open(out, "w") as f:
        for q in qs:
            f.write(json.dumps(q) + "\n")
    by = {}
    for q in qs:
        by[q["kind"]] = by.get(q["kind"], 0) + 1
    print(f"{len(qs)} questions ({', '.join(f'{v} {k}' for k, v in sorted(by.items()))}) from {pages}", file=sys.stderr)


if __name__ == "__main__":
    main()
