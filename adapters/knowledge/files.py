"""Reading uploaded documents (.txt, .md, .pdf with pypdf) and splitting text (langchain-text-splitters).

A Markdown file's title is its first heading (adapters/knowledge/markdown.py), a PDF's its metadata title;
a plain text file has none.
"""

from __future__ import annotations

import io
import logging
import re

from langchain_text_splitters import RecursiveCharacterTextSplitter
from pypdf import PdfReader
from pypdf.errors import PyPdfError

from adapters.knowledge.markdown import markdown_title
from application.ports.knowledge import DocumentReader, TextSplitter
from domain.errors import InvalidDocument, UnsupportedDocumentType
from domain.knowledge import FileText

log = logging.getLogger("centralita.knowledge")

MARKDOWN_SUFFIXES = (".md", ".markdown")
MARKDOWN_TYPES = ("text/markdown", "text/x-markdown")
PDF_TYPES = ("application/pdf", "application/x-pdf")
# Paragraphs, then lines, then sentences, then words: a chunk rarely ends mid-sentence.
SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]
# PDF metadata titles that name no document: "Microsoft Word - informe.docx", "untitled".
_PLACEHOLDER_TITLE = re.compile(r"\.[a-z0-9]{2,5}$|^(untitled|sin título|document|documento)$", re.IGNORECASE)


class FileReader(DocumentReader):
    """Plain text and Markdown as UTF-8 (Latin-1 as a fallback); PDF text page by page."""

    def read(self, filename: str, media_type: str | None, data: bytes) -> FileText:
        kind = _kind(filename, media_type)
        if kind == "pdf":
            return _pdf_text(data)
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
        return FileText(text, markdown_title(text) if kind == "markdown" else None)


def _kind(filename: str, media_type: str | None) -> str:
    name = filename.lower()
    media = (media_type or "").split(";", 1)[0].strip().lower()
    if name.endswith(".pdf") or media in PDF_TYPES:
        return "pdf"
    if name.endswith(MARKDOWN_SUFFIXES) or (media in MARKDOWN_TYPES and not name.endswith(".txt")):
        return "markdown"
    if name.endswith(".txt") or media == "text/plain":
        return "text"
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else None
    raise UnsupportedDocumentType(f"A {suffix} file" if suffix else f"A file of type {media or 'unknown'}")


def _pdf_text(data: bytes) -> FileText:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise InvalidDocument("The PDF is encrypted; upload a copy without a password.")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = " ".join(((reader.metadata and reader.metadata.title) or "").split())
    except PyPdfError as error:
        raise InvalidDocument(f"The PDF cannot be read ({type(error).__name__}).") from error
    text = "\n\n".join(page.strip() for page in pages if page.strip())
    return FileText(text, title if title and not _PLACEHOLDER_TITLE.search(title) else None)


class RecursiveSplitter(TextSplitter):
    """`RecursiveCharacterTextSplitter` with `size` characters per chunk and `overlap` repeated."""

    def __init__(self, size: int = 500, overlap: int = 75) -> None:
        if not 0 <= overlap < size:
            raise ValueError(f"CHUNK_OVERLAP ({overlap}) must be below CHUNK_SIZE ({size})")
        self._splitter = RecursiveCharacterTextSplitter(
            chunk_size=size, chunk_overlap=overlap, separators=SEPARATORS, keep_separator="end"
        )

    def split(self, text: str) -> list[str]:
        return [piece.strip() for piece in self._splitter.split_text(text) if piece.strip()]
