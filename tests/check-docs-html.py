#!/usr/bin/env python3
"""Checks the generated HTML documentation for Markdown that Doxygen left
as text: literal ** or __ emphasis markers, backticks, escaped <tt>/<code>
tags (a code span in a heading), unconverted \\f$ formulas, Markdown links
and list markers at the start of a line of running text.

Usage: check-docs-html.py HTML_DIR. Exits 1 and lists the offending lines
of each page, 0 when every page is clean."""
import glob
import html
import os
import re
import sys

CHECKS = [
    (re.compile(r"\*\*"), "literal **"),
    (re.compile(r"(^|[\s(])__\w|\w__([\s.,;:)]|$)"), "literal __"),
    (re.compile(r"`"), "literal backtick"),
    (re.compile(r"<(tt|code|b|em|sub|sup)>"), "escaped HTML tag"),
    (re.compile(r"\\f[$\[\]]"), "unconverted \\f formula"),
    (re.compile(r"\]\([^)]*\)"), "Markdown link left as text"),
    (re.compile(r"^\s*([-*+]|\d+\.)\s+\S"), "list marker in running text"),
]

REMOVE = [
    r"<script.*?</script>",
    r"<style.*?</style>",
    r'<div class="fragment">.*?</div><!-- fragment -->',
    r"<pre.*?</pre>",
    r"<code>.*?</code>",
    r'<table class="memname">.*?</table>',
    r'<td class="memItem(Left|Right)".*?</td>',
    r'<td class="memTemplItem(Left|Right)".*?</td>',
    r'<div class="line">.*?</div>',
    r'<div class="memproto">.*?</div>',
]


def visible_text(source):
    for pattern in REMOVE:
        source = re.sub(pattern, " ", source, flags=re.S)
    # headings may start with a number ("1. ..."): mark them as headings
    source = re.sub(r"<h([1-6])[^>]*>(.*?)</h\1>",
                    lambda m: "\n§ " + " ".join(m.group(2).split()) + "\n", source, flags=re.S)
    text = html.unescape(re.sub(r"<[^>]+>", "", source))
    text = text.replace("xoshiro256**", "xoshiro256")  # the generator's name
    text = re.sub(r"^\s*- \w -\s*$", "", text, flags=re.M)  # index letters
    # formulas left for MathJax: \( ... \) and \[ ... \]
    text = re.sub(r"\\\(.*?\\\)", " ", text, flags=re.S)
    text = re.sub(r"\\\[.*?\\\]", " ", text, flags=re.S)
    return text


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: check-docs-html.py HTML_DIR")
    pages = sorted(glob.glob(os.path.join(sys.argv[1], "*.html")))
    if not pages:
        sys.exit("no HTML pages in %s" % sys.argv[1])
    bad = 0
    for page in pages:
        with open(page, encoding="utf-8") as f:
            text = visible_text(f.read())
        for line in text.split("\n"):
            for pattern, what in CHECKS:
                if pattern.search(line):
                    print("%s: %s: %s" % (os.path.basename(page), what, line.strip()[:160]))
                    bad += 1
    print("%d pages, %d problems" % (len(pages), bad))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
