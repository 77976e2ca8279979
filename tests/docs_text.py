"""Where the documentation's text lives: README.md and the pages of docs/. Tests that check a
section, a table or an example find it here by its title or its first words, whichever page
holds it, so moving text between pages moves nothing in the tests.

>>> section("A first gradient").startswith("## A first gradient\\n")
True
>>> "xg.GradientTape()" in text_from("## A first gradient")
True
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pages() -> list:
    """README.md, then every page of docs/ by name."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _headings(text: str) -> list:
    """``(offset, level, title)`` of each Markdown heading outside fenced code (a ``#``
    comment in a code block is not a heading)."""
    found, offset, fenced = [], 0, False
    for line in text.splitlines(keepends=True):
        if line.startswith("```"):
            fenced = not fenced
        elif not fenced and (m := re.match(r"(#{1,6}) (.*)\n?$", line)):
            found.append((offset, len(m.group(1)), m.group(2).strip()))
        offset += len(line)
    return found


def section(title: str) -> str:
    """The text under the one heading called ``title`` in README.md or docs/*.md, heading
    included, up to the next heading of the same or a higher level (a page's ``# title``: the
    whole page). No such heading, or two, is a LookupError naming the pages."""
    hits = []
    for page in pages():
        text = page.read_text()
        heads = _headings(text)
        for i, (start, level, name) in enumerate(heads):
            if name == title:
                end = next((s for s, lv, _ in heads[i + 1:] if lv <= level), len(text))
                hits.append((page, text[start:end]))
    if len(hits) != 1:
        raise LookupError(f"{len(hits)} sections titled {title!r} in "
                          f"{[str(p.relative_to(ROOT)) for p, _ in hits] or 'no page'}")
    return hits[0][1]


def text_from(marker: str) -> str:
    """The page that holds ``marker`` (exactly one may), from the marker to the page's end."""
    hits = [(page, text) for page in pages() if marker in (text := page.read_text())]
    if len(hits) != 1:
        raise LookupError(f"{marker!r} is in {len(hits)} pages: "
                          f"{[str(p.relative_to(ROOT)) for p, _ in hits]}")
    text = hits[0][1]
    return text[text.index(marker):]


def all_text(skip=()) -> str:
    """Every page's text, README.md first, each ending with a blank line; ``skip``: the
    names of pages to leave out (``"gpu.md"``)."""
    return "".join(page.read_text().rstrip("\n") + "\n\n" for page in pages()
                   if page.name not in skip)
