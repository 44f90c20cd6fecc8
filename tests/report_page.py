"""Reading the model report page in tests: sections, tags and the numbers it names."""

from __future__ import annotations

from html.parser import HTMLParser


class Page(HTMLParser):
    """Collects tags, attributes, section ids and the text of every ``data-key`` element."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.keyed: dict[str, str] = {}
        self.sections: dict[str, str] = {}
        self._open: list[tuple[str, str | None, list[str]]] = []
        self._section: str | None = None

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        self.tags.append((tag, attributes))
        if tag == "section":
            self._section = attributes.get("id")
            self.sections[self._section] = ""
        self._open.append((tag, attributes.get("data-key"), []))

    def handle_startendtag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        while self._open:
            name, key, text = self._open.pop()
            if key is not None:
                self.keyed[key] = "".join(text).strip()
            if self._open:
                self._open[-1][2].extend(text)
            if name == tag:
                break
        if tag == "section":
            self._section = None

    def handle_data(self, data):
        if self._open:
            self._open[-1][2].append(data)
        if self._section:
            self.sections[self._section] += data


def parse(page: str) -> Page:
    parser = Page()
    parser.feed(page)
    parser.close()
    return parser
