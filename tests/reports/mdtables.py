"""Parse the GFM pipe tables of a Markdown document with markdown-it-py into lists of visible cell texts."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass

from markdown_it import MarkdownIt


@dataclass
class ParsedTable:
    heading: str  # the nearest heading (or <details> summary line) above the table
    header: list[str]
    rows: list[list[str]]

    def column(self, name: str) -> list[str]:
        index = self.header.index(name)
        return [row[index] for row in self.rows]

    def row(self, first_cell: str) -> dict[str, str]:
        for row in self.rows:
            if row[0] == first_cell:
                return dict(zip(self.header, row, strict=True))
        raise KeyError(first_cell)


def markdown_parser() -> MarkdownIt:
    """CommonMark with GFM tables and raw HTML on (as GitHub parses it before sanitising)."""
    return MarkdownIt("commonmark", {"html": True}).enable("table")


def _visible(md: MarkdownIt, inline) -> str:
    """The cell's visible text; no-break spaces (which hold an estimate and its interval together) read as spaces."""
    rendered = md.renderer.renderInline(inline.children or [], md.options, {})
    return html.unescape(re.sub(r"<[^>]+>", "", rendered)).replace("\u00a0", " ").strip()


_SUMMARY = re.compile(r"<summary>(.*?)</summary>", re.S)


def parse_tables(text: str) -> list[ParsedTable]:
    md = markdown_parser()
    tokens = md.parse(text)
    tables: list[ParsedTable] = []
    heading = ""
    current: ParsedTable | None = None
    row: list[str] | None = None
    in_head = False
    for i, token in enumerate(tokens):
        if token.type == "heading_open":
            heading = _visible(md, tokens[i + 1])
        elif token.type == "html_block" and _SUMMARY.search(token.content):  # a collapsed block's title
            heading = html.unescape(re.sub(r"<[^>]+>", "", _SUMMARY.search(token.content).group(1))).strip()
        elif token.type == "table_open":
            current = ParsedTable(heading, [], [])
        elif token.type == "thead_open":
            in_head = True
        elif token.type == "thead_close":
            in_head = False
        elif token.type == "tr_open":
            row = []
        elif token.type in ("th_open", "td_open"):
            assert row is not None
            row.append(_visible(md, tokens[i + 1]))
        elif token.type == "tr_close" and current is not None and row is not None:
            if in_head:
                current.header = row
            else:
                current.rows.append(row)
        elif token.type == "table_close" and current is not None:
            tables.append(current)
            current = None
    return tables
