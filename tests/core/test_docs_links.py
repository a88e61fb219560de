"""Every relative link and image in README.md and docs/**/*.md points at a file or folder that exists.

Plain text checks only: no network, no import of the project. Web links (http, https), mailto: and pure #anchor
links are skipped; for PATH#anchor only PATH is checked. Fenced code blocks and inline code spans are ignored.
"""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]

# [text](target) and ![alt](target); the target may carry a "title" after a space
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
FENCE = re.compile(r"^\s*(```|~~~)")
CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1")
SKIP = re.compile(r"^(?:[a-zA-Z][a-zA-Z0-9+.-]*:|#)")  # http:, https:, mailto:, ... and #anchor


def links(text):
    """(line number, target) of every Markdown link outside code."""
    fenced_by = None
    for number, line in enumerate(text.splitlines(), start=1):
        fence = FENCE.match(line)
        if fence:
            if fenced_by is None:
                fenced_by = fence.group(1)
            elif fence.group(1) == fenced_by:
                fenced_by = None
            continue
        if fenced_by is not None:
            continue
        for match in LINK.finditer(CODE_SPAN.sub("", line)):
            yield number, match.group(1)


def test_pages_found():
    assert (ROOT / "README.md").is_file()
    assert len(PAGES) > 1, "no Markdown pages under docs/"


def test_link_parser():
    text = "\n".join(
        [
            "[a](x.md) ![b](img/y.png) [c](https://example.org) [d](#top) [e](z.md#part) [f](mailto:a@b.c)",
            "`[not](code.md)`",
            "```",
            "[not](fenced.md)",
            "```",
            '[g](<w.md>) [h](v.md "title")',
        ]
    )
    assert [target for _, target in links(text) if not SKIP.match(target)] == [
        "x.md",
        "img/y.png",
        "z.md#part",
        "w.md",
        "v.md",
    ]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page):
    broken = []
    for number, target in links(page.read_text(encoding="utf-8")):
        if SKIP.match(target):
            continue
        path = target.split("#", 1)[0].split("?", 1)[0]
        if not path:
            continue
        resolved = (ROOT / path.lstrip("/")) if path.startswith("/") else (page.parent / path)
        if not resolved.exists():
            broken.append(f"{page.relative_to(ROOT)}:{number}: {target}")
    assert not broken, "broken links:\n" + "\n".join(broken)
