"""Reading uploaded documents (.txt, .md, .pdf with pypdf) and splitting text (langchain-text-splitters)."""

from __future__ import annotations

import io
import logging

from langchain_text_splitters import RecursiveCharacterTextSplitter
from pypdf import PdfReader
from pypdf.errors import PyPdfError

from application.ports.knowledge import DocumentReader, TextSplitter
from domain.errors import InvalidDocument, UnsupportedDocumentType

log = logging.getLogger("centralita.knowledge")

TEXT_SUFFIXES = (".txt", ".md", ".markdown")
TEXT_TYPES = ("text/plain", "text/markdown", "text/x-markdown")
PDF_TYPES = ("application/pdf", "application/x-pdf")
# Paragraphs, then lines, then sentences, then words: a chunk rarely ends mid-sentence.
SEPARATORS = ["\n\n", "\n", ". ", "? ", "! ", "; ", ", ", " ", ""]


class FileReader(DocumentReader):
    """Plain text and Markdown as UTF-8 (Latin-1 as a fallback); PDF text page by page."""

    def read(self, filename: str, media_type: str | None, data: bytes) -> str:
        kind = _kind(filename, media_type)
        if kind == "pdf":
            return _pdf_text(data)
        try:
            return data.decode("utf-8-sig")
        except UnicodeDecodeError:
            return data.decode("latin-1")


def _kind(filename: str, media_type: str | None) -> str:
    name = filename.lower()
    media = (media_type or "").split(";", 1)[0].strip().lower()
    if name.endswith(".pdf") or media in PDF_TYPES:
        return "pdf"
    if name.endswith(TEXT_SUFFIXES) or media in TEXT_TYPES:
        return "text"
    suffix = "." + name.rsplit(".", 1)[-1] if "." in name else None
    raise UnsupportedDocumentType(f"A {suffix} file" if suffix else f"A file of type {media or 'unknown'}")


def _pdf_text(data: bytes) -> str:
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise InvalidDocument("The PDF is encrypted; upload a copy without a password.")
        pages = [page.extract_text() or "" for page in reader.pages]
    except PyPdfError as error:
        raise InvalidDocument(f"The PDF cannot be read ({type(error).__name__}).") from error
    return "\n\n".join(page.strip() for page in pages if page.strip())


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
