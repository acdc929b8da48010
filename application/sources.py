"""The sources shown under an answer (REST, SSE, WebSocket, the CLI chat and the stored message alike).

One source per document — its best scoring chunk gives the score and the snippet — best first. The snippet
is that chunk in plain text (no Markdown), without a leading heading that repeats the title, cut at a word
boundary. The prompt still receives every retrieved chunk as it is (application/prompt.py).
"""

from __future__ import annotations

from collections.abc import Sequence

from application.ports.knowledge import PlainTextRenderer
from domain.knowledge import SNIPPET_CHARS, ScoredChunk, Source, best_per_document, snippet


def sources_of(
    chunks: Sequence[ScoredChunk], renderer: PlainTextRenderer, snippet_chars: int = SNIPPET_CHARS
) -> tuple[Source, ...]:
    return tuple(
        Source(
            chunk.document_id,
            chunk.title,
            snippet(renderer.blocks(chunk.text), chunk.title, snippet_chars),
            round(chunk.score, 4),
        )
        for chunk in best_per_document(chunks)
    )
