"""Knowledge: the documents an operator loads for an agent, their chunks, and the sources of an answer."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from domain.errors import EmptyDocument, InvalidDocument
from domain.rules import CONTROL_CHARACTERS, LONE_SURROGATES, MAX_SOURCE_CHARS, MAX_TITLE_CHARS

# A document is the company's own text (a PDF's page breaks are form feeds): control characters other than
# tab and line breaks, and lone surrogates (no store can write them), become spaces instead of refusing it.
_UNPRINTABLE = re.compile(f"[{CONTROL_CHARACTERS}{LONE_SURROGATES}]")
SNIPPET_CHARS = 300
_ENDS_A_SENTENCE = tuple(".,:;!?…")


@dataclass(frozen=True, slots=True)
class Source:
    """A retrieved chunk as shown to clients under an answer."""

    document_id: str
    title: str
    snippet: str
    score: float


@dataclass(frozen=True, slots=True)
class ScoredChunk:
    """A chunk of an agent's knowledge and its cosine similarity to the question (higher is closer)."""

    document_id: str
    title: str
    text: str
    score: float
    chunk: int = 0


@dataclass(frozen=True, slots=True)
class TextBlock:
    """A paragraph, heading, list item, table row or code block of a chunk, as plain text."""

    text: str
    heading: bool = False


@dataclass(frozen=True, slots=True)
class FileText:
    """What a reader found in an uploaded file: its text and the title the file gives itself, if any."""

    text: str
    title: str | None = None


@dataclass(frozen=True, slots=True)
class KnowledgeDocument:
    document_id: str
    agent_id: int
    title: str
    source: str | None
    chunks: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class EmbeddedChunk:
    """One piece of a document, with the vector its text was embedded to (numbered from 0)."""

    document_id: str
    agent_id: int
    title: str
    chunk: int
    text: str
    embedding: tuple[float, ...]


def new_document_id() -> str:
    return uuid.uuid4().hex


def printable(text: str) -> str:
    """`text` with NULs removed and every other control character or lone surrogate turned into a space."""
    return _UNPRINTABLE.sub(" ", text.replace("\x00", ""))


def validate_title(title: str) -> str:
    """The title with its blank space collapsed. Its length is counted as given, as the schema's maxLength is."""
    if len(title) > MAX_TITLE_CHARS:
        raise InvalidDocument(f"A document title has at most {MAX_TITLE_CHARS} characters.")
    title = " ".join(printable(title).split())
    if not title:
        raise InvalidDocument("A document needs a non-empty title.")
    return title


def validate_source(source: str | None) -> str | None:
    """The source without surrounding blank space, None when blank; its length counted as given."""
    if source is not None and len(source) > MAX_SOURCE_CHARS:
        raise InvalidDocument(f"A document source has at most {MAX_SOURCE_CHARS} characters.")
    if source is None or not printable(source).strip():
        return None
    return printable(source).strip()


def validate_text(text: str) -> str:
    """The document's text made printable (see `printable`), without surrounding blank space; never empty."""
    text = printable(text).strip()
    if not text:
        raise EmptyDocument("The document has no text to learn from.")
    return text


def best_per_document(chunks: Sequence[ScoredChunk]) -> list[ScoredChunk]:
    """One chunk per document, its best scoring one; best first (ties keep their retrieval order)."""
    best: dict[str, ScoredChunk] = {}
    for chunk in chunks:
        kept = best.get(chunk.document_id)
        if kept is None or chunk.score > kept.score:
            best[chunk.document_id] = chunk
    return sorted(best.values(), key=lambda chunk: -chunk.score)


def snippet(blocks: Sequence[TextBlock], title: str, limit: int = SNIPPET_CHARS) -> str:
    """A chunk's blocks as one line of at most `limit` characters, without a leading heading that repeats
    the title; blocks are joined as sentences."""
    if blocks and blocks[0].heading and _same(blocks[0].text, title) and len(blocks) > 1:
        blocks = blocks[1:]
    texts = [" ".join(block.text.split()) for block in blocks]
    texts = [text for text in texts if text]
    sentences = [text if text.endswith(_ENDS_A_SENTENCE) else text + "." for text in texts[:-1]]
    return cut_at_word(" ".join(sentences + texts[-1:]), limit)


def cut_at_word(text: str, limit: int) -> str:
    """`text` when it fits in `limit` characters, else cut at the last word boundary with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if not text[limit - 1].isspace():
        head, space, _ = cut.rpartition(" ")
        cut = head if space and len(head) >= limit // 2 else cut  # one giant "word": cut it anyway
    return cut.rstrip(" .,;:-–—") + "…"


def _same(a: str, b: str) -> bool:
    return " ".join(a.split()).casefold() == " ".join(b.split()).casefold()
