"""Checks that an HTML page parses, closes its elements and refers to nothing outside itself."""

from __future__ import annotations

import html.parser
import re
from typing import ClassVar


class _Page(html.parser.HTMLParser):
    """Collects tags, attributes and text; checks that every opened element is closed."""

    VOID: ClassVar = {"meta", "img", "br", "hr", "link", "input"}

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes {self.stack[-1:]}"
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse_page(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    assert parser.stack == [], f"unclosed elements: {parser.stack}"
    return parser


def assert_self_contained(page: str) -> _Page:
    """The page parses, closes every element and refers to nothing outside itself."""
    parsed = parse_page(page)
    for tag, attrs in parsed.tags:
        assert tag not in {"script", "link", "iframe", "object", "embed"}, tag
        for name in ("src", "href", "action", "data"):
            value = attrs.get(name)
            if value is not None:
                assert value.startswith(("data:", "#")), f"<{tag} {name}={value[:40]}>"
    text = re.sub(r"data:[a-z/+.-]+;base64,[A-Za-z0-9+/=]*", "", page)
    assert not re.search(r"(https?|ftp|file)://", text, re.IGNORECASE)
    assert "@import" not in text and "url(" not in text
    return parsed
