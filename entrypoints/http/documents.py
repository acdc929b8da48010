"""Knowledge document routes (admin): upload JSON text or a .txt/.md/.pdf file, list, delete.

`POST` takes either `application/json` `{"title", "text", "source"?}` or `multipart/form-data` with a `file`
part and optional `title` and `source` fields. The upload limit is MAX_DOCUMENT_MB: a larger body is refused
while it is read (413 `document_too_large`), before it fills memory.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec
from litestar import Controller, Request, delete, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.exceptions import ValidationException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.params import FromPath

from application.knowledge import KnowledgeService
from application.paging import Page
from domain.audit import Actor
from domain.bounds import DEFAULT_LIMIT
from domain.errors import DocumentTooLarge
from domain.knowledge import KnowledgeDocument
from entrypoints.http.schemas import AgentIdParam, Limit, Offset
from entrypoints.http.security import ACCEPTS_MULTIPART, UnsupportedMediaType, admin_guard

BODY_OVERHEAD = 256 * 1024  # multipart framing and JSON quoting around the document itself


class DocumentBody(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    title: str
    text: str
    source: str | None = None


class DocumentAdded(msgspec.Struct):
    document_id: str
    title: str
    chunks: int


class DocumentOut(msgspec.Struct):
    document_id: str
    title: str
    source: str | None
    chunks: int
    created_at: datetime


def document_out(document: KnowledgeDocument) -> DocumentOut:
    return DocumentOut(
        document.document_id, document.title, document.source, document.chunks, document.created_at
    )


class DocumentController(Controller):
    path = "/api/v1/agents/{agent_id:int}/documents"
    tags = ["documents"]
    guards = [admin_guard]

    @post(
        "/",
        opt={ACCEPTS_MULTIPART: True},
        summary="Add a document to an agent's knowledge",
        description=(
            'JSON `{"title", "text", "source"?}`, or multipart/form-data with a `file` (.txt, .md, .pdf) and '
            "optional `title` and `source` fields. The text is split into chunks, embedded and indexed."
        ),
    )
    async def add_document(
        self,
        agent_id: AgentIdParam,
        request: Request[Any, Any, Any],
        knowledge: NamedDependency[KnowledgeService],
        actor: NamedDependency[Actor],
    ) -> DocumentAdded:
        media_type, _ = request.content_type
        try:
            if media_type == "application/json" or media_type.endswith("+json"):
                body = _decode(await request.body())
                document = await knowledge.add_text(agent_id, body.title, body.text, body.source, actor)
            elif media_type == "multipart/form-data":
                form = await request.form()
                upload = form.get("file")
                if not isinstance(upload, UploadFile):
                    upload = next((v for v in form.values() if isinstance(v, UploadFile)), None)
                if upload is None:
                    raise ValidationException(
                        "The form needs a `file` part.", extra=[{"key": "file", "message": "missing"}]
                    )
                document = await knowledge.add_file(
                    agent_id,
                    upload.filename or "document",
                    upload.content_type,
                    await upload.read(),
                    _field(form.get("title")),
                    _field(form.get("source")),
                    actor,
                )
            else:  # admin_guard refuses other bodies already; kept so the route never reads one
                raise UnsupportedMediaType(
                    f"The body must be JSON or multipart/form-data, not {media_type or 'none'}."
                )
        except RequestEntityTooLarge as error:
            raise DocumentTooLarge(knowledge.limits.max_bytes) from error
        return DocumentAdded(document.document_id, document.title, document.chunks)

    @get("/", summary="List an agent's documents")
    async def list_documents(
        self,
        agent_id: AgentIdParam,
        knowledge: NamedDependency[KnowledgeService],
        limit: Limit = DEFAULT_LIMIT,
        offset: Offset = 0,
    ) -> list[DocumentOut]:
        return [document_out(d) for d in await knowledge.list(agent_id, Page(limit, offset))]

    @delete("/{document_id:str}", summary="Delete a document and its chunks")
    async def delete_document(
        self,
        agent_id: AgentIdParam,
        document_id: FromPath[str],
        knowledge: NamedDependency[KnowledgeService],
        actor: NamedDependency[Actor],
    ) -> None:
        await knowledge.delete(agent_id, document_id, actor)


def document_controller(max_document_bytes: int) -> type[DocumentController]:
    """The controller with a body limit fitting MAX_DOCUMENT_MB (one class per app)."""
    limit = max_document_bytes + max_document_bytes // 10 + BODY_OVERHEAD
    return type("DocumentController", (DocumentController,), {"request_max_body_size": limit})


def _decode(raw: bytes) -> DocumentBody:
    try:
        return msgspec.json.decode(raw, type=DocumentBody)
    except msgspec.ValidationError as error:
        raise ValidationException(
            "Invalid document", extra=[{"key": "body", "message": str(error)}]
        ) from error
    except (msgspec.DecodeError, RecursionError) as error:  # RecursionError: nested too deeply
        raise ValidationException("Malformed JSON body") from error


def _field(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None
