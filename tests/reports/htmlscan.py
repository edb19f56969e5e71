"""A stdlib scan of an HTML page: elements with their attributes, and the visible text."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from html.parser import HTMLParser

RAW_TEXT = {"script", "style"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]


@dataclass
class Page:
    elements: list[Element] = field(default_factory=list)
    text: str = ""
    scripts: list[str] = field(default_factory=list)

    def find(self, tag: str, **attrs: str) -> list[Element]:
        return [
            e for e in self.elements if e.tag == tag and all(e.attrs.get(k) == v for k, v in attrs.items())
        ]

    def ids(self) -> set[str]:
        return {e.attrs["id"] for e in self.elements if "id" in e.attrs}

    def case_data(self) -> dict | None:
        """The case browser's embedded JSON document (``<script type="application/json" id="case-data">``)."""
        for element, text in zip(self.find("script"), self.scripts, strict=True):
            if element.attrs.get("id") == "case-data":
                return json.loads(text)
        return None


class _Scanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.page = Page()
        self._text: list[str] = []
        self._raw: str | None = None
        self._raw_parts: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.page.elements.append(Element(tag, {k: v or "" for k, v in attrs}))
        if tag in RAW_TEXT:
            self._raw, self._raw_parts = tag, []

    def handle_endtag(self, tag):
        if tag == self._raw:
            if tag == "script":
                self.page.scripts.append("".join(self._raw_parts))
            self._raw = None

    def handle_data(self, data):
        if self._raw:
            self._raw_parts.append(data)
        else:
            self._text.append(data)

    def close(self):
        super().close()
        self.page.text = "".join(self._text)


def scan(html: str) -> Page:
    scanner = _Scanner()
    scanner.feed(html)
    scanner.close()
    return scanner.page
