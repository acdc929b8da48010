"""Markdown as plain text (markdown-it-py, CommonMark with tables): source snippets and a document's title.

Plain text and PDF text read as Markdown too: they come out as their paragraphs, whitespace collapsed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache
from html.parser import HTMLParser

from markdown_it import MarkdownIt
from markdown_it.token import Token

from application.ports.knowledge import PlainTextRenderer
from domain.knowledge import TextBlock

_MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])
TITLE_SEARCH_CHARS = 20_000  # a document's title is near its top: parse no further for it
_TABLE_LINE = re.compile(r"^\s*\|.*\|\s*$")
_TABLE_RULE = re.compile(r"^\s*:?-+:?\s*$")
_LINE_BREAK_TAG = re.compile(r"^<br\s*/?>$", re.IGNORECASE)
_HIDDEN_TAGS = frozenset({"script", "style"})
_INLINE_TAGS = frozenset(
    {"a", "abbr", "b", "code", "em", "i", "kbd", "mark", "s", "small", "span", "strong", "sub", "sup", "u"}
)


class MarkdownRenderer(PlainTextRenderer):
    def blocks(self, text: str) -> Sequence[TextBlock]:
        return _blocks(text)


def markdown_title(text: str) -> str | None:
    """The document's first level-1 heading, else a heading it opens with; None when it has neither."""
    tokens = _MARKDOWN.parse(text[:TITLE_SEARCH_CHARS])
    opening: str | None = None
    for index, token in enumerate(tokens):
        if token.type != "heading_open":
            continue
        title = " ".join(_inline_text(tokens[index + 1]).split())
        if token.tag == "h1" and title:
            return title
        if index == 0:
            opening = title or None
    return opening


@lru_cache(maxsize=1024)  # the same chunks come back turn after turn
def _blocks(text: str) -> tuple[TextBlock, ...]:
    blocks: list[TextBlock] = []
    markers: list[str] = []  # per open list item: "3. " until its first paragraph took it, bullets ""
    row: list[str] | None = None
    heading = False
    for token in _MARKDOWN.parse(text):
        match token.type:
            case "heading_open" | "heading_close":
                heading = token.type == "heading_open"
            case "list_item_open":
                markers.append(f"{token.info}{token.markup} " if token.info else "")
            case "list_item_close":
                markers.pop()
            case "tr_open":
                row = []
            case "tr_close" if row is not None:
                blocks.append(TextBlock(", ".join(cell for cell in row if cell)))
                row = None
            case "inline" if row is not None:
                row.append(_inline_text(token).strip())
            case "inline" if _is_table_fragment(token.content):
                blocks += _table_fragment(token.content)
            case "inline":
                marker = markers[-1] if markers else ""
                if markers:
                    markers[-1] = ""
                blocks.append(TextBlock(marker + _inline_text(token), heading))
            case "fence" | "code_block":
                blocks.append(TextBlock(token.content))
            case "html_block":
                blocks.append(TextBlock(_html_text(token.content)))
    return tuple(block for block in blocks if block.text.strip())


def _inline_text(token: Token) -> str:
    parts: list[str] = []
    for child in token.children or ():
        if child.type in ("text", "code_inline", "image"):  # an image's content is its alt text
            parts.append(child.content)
        elif child.type in ("softbreak", "hardbreak") or (
            child.type == "html_inline" and _LINE_BREAK_TAG.match(child.content)
        ):
            parts.append(" ")
    return "".join(parts)


def _is_table_fragment(content: str) -> bool:
    """Rows of a table whose header row fell into another chunk: CommonMark reads them as a paragraph."""
    return all(_TABLE_LINE.match(line) for line in content.splitlines())


def _table_fragment(content: str) -> list[TextBlock]:
    rows = []
    for line in content.splitlines():
        cells = [cell for cell in line.strip().strip("|").split("|") if not _TABLE_RULE.match(cell)]
        texts = [_inline_text(_MARKDOWN.parseInline(cell)[0]).strip() for cell in cells]
        rows.append(TextBlock(", ".join(text for text in texts if text)))
    return rows


class _TextOfHtml(HTMLParser):
    """The text of an HTML block: tags dropped (block-level ones as a space), script and style skipped."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0  # how deep inside <script> or <style>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _HIDDEN_TAGS:
            self._hidden += 1
        self._space(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in _HIDDEN_TAGS and self._hidden:
            self._hidden -= 1
        self._space(tag)

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)

    def _space(self, tag: str) -> None:
        if tag not in _INLINE_TAGS:
            self.parts.append(" ")


def _html_text(html: str) -> str:
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)
