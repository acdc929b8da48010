"""The Litestar application factory: routes, dependencies, error handling, OpenAPI, lifespan."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.resources import files
from pathlib import Path

from litestar import Litestar
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router

from application.diagnostics import Diagnostics
from entrypoints.container import Container, build_container, resolve_all, start_knowledge
from entrypoints.http.agents import AgentController
from entrypoints.http.allow import install_allow_fix
from entrypoints.http.audit import AuditController
from entrypoints.http.chat import ChatController
from entrypoints.http.chat_socket import chat_stream_socket, legacy_chat_stream_socket
from entrypoints.http.conversations import ConversationController, HistoryController
from entrypoints.http.dependencies import DEPENDENCIES
from entrypoints.http.documents import document_controller
from entrypoints.http.errors import EXCEPTION_HANDLERS, on_unreadable_path
from entrypoints.http.health import health, ready
from entrypoints.http.llm import LegacyGroqController, LlmController
from entrypoints.http.middleware import install as install_middleware
from entrypoints.http.openapi_errors import (
    declare_closed_shapes,
    declare_document_body,
    declare_error_responses,
    declare_event_stream,
    declare_message_limit,
    declare_model_rule,
)
from entrypoints.http.public_agents import PublicAgentController
from entrypoints.http.query import plain_query_values
from entrypoints.http.schemas import AgentBody, AgentPatchBody, ChatBody, LegacyChatBody
from entrypoints.http.security import log_access_rules
from entrypoints.metrics import metrics, metrics_middleware
from entrypoints.settings import Settings

log = logging.getLogger("centralita")
WIDGET_DIR = Path(__file__).parent / "widget" / "static"
SWAGGER_UI_DIR = Path(str(files("swagger_ui") / "static"))  # Swagger UI's distribution, from swagger-ui-py
DOCS_ASSETS = "/docs/static"
VERSION = "0.1.0"


async def check_llm_key(diagnostics: Diagnostics) -> None:
    """Log whether the provider accepts the configured key (the key itself never reaches the log)."""
    try:
        check = await diagnostics.verify_key()
    except Exception as error:  # a background check must never take the server down
        log.warning("LLM key check could not run (%s)", type(error).__name__)
        return
    if check.valid:
        log.info("LLM key check: %s accepted the key %s", check.provider, check.key_hint or "")
    else:
        log.warning(
            "LLM key check: %s did not accept the key %s: %s",
            check.provider,
            check.key_hint or "",
            check.error,
        )


def create_app(settings: Settings | None = None, container: Container | None = None) -> Litestar:
    settings = settings or Settings()
    container = container or build_container(settings)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        if settings.storage == "mongodb":
            await container.mongo().open()
        else:
            log.info("store: memory (nothing is persisted)")
        try:
            resolve_all(container)
            await start_knowledge(container)
            await container.agent_service().ensure_default()
            reason = container.chat_model().unavailable_reason()
            if reason:
                log.warning("%s", reason)
            # With a key set, check it once in the background: the outcome is logged and told by /ready,
            # startup is not delayed.
            key_check = None if reason else asyncio.create_task(check_llm_key(container.diagnostics()))
            log_access_rules(settings)
            log.info("centralita ready: storage=%s, model=%s", settings.storage, settings.llm_model)
            yield
            if key_check is not None:
                key_check.cancel()
            await container.diagnostics().close()
            # Turns cut short by the shutdown record their replies before the store closes.
            if unfinished := await container.chat_turns().drain(seconds=5.0):
                log.warning("shutting down with %d turn(s) whose reply may not be recorded", unfinished)
        finally:
            # Open feed subscriptions end (their iterators stop) before the client under them closes.
            await container.conversation_feed().close()
            if settings.storage == "mongodb":
                await container.mongo().close()

    app = Litestar(
        route_handlers=[
            ChatController,
            chat_stream_socket,
            legacy_chat_stream_socket,
            HistoryController,
            PublicAgentController,
            AgentController,
            document_controller(settings.max_document_bytes),
            ConversationController,
            AuditController,
            LlmController,
            LegacyGroqController,
            health,
            ready,
            metrics,
            create_static_files_router(
                path="/widget",
                directories=[WIDGET_DIR],
                html_mode=True,
                exception_handlers={ValueError: on_unreadable_path},
            ),
            create_static_files_router(
                path=DOCS_ASSETS,
                directories=[SWAGGER_UI_DIR],
                include_in_schema=False,
                exception_handlers={ValueError: on_unreadable_path},
            ),
        ],
        dependencies=DEPENDENCIES,
        guards=[plain_query_values],  # `?agent_id=1&agent_id=2`: 422, as the schema says
        middleware=[metrics_middleware],
        logging_config=None,  # logging is configured once, for uvicorn and the app (entrypoints/logs.py)
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=[lifespan],
        state=State({"container": container, "settings": settings}),
        openapi_config=OpenAPIConfig(
            title="Centralita",
            version=VERSION,
            description="AI agents for a call center: grounded answers, streamed, every conversation kept.",
            path="/docs",
            render_plugins=[
                SwaggerRenderPlugin(  # assets served by the app itself: /docs works without internet
                    js_url=f"{DOCS_ASSETS}/swagger-ui-bundle.js",
                    css_url=f"{DOCS_ASSETS}/swagger-ui.css",
                    standalone_preset_js_url=f"{DOCS_ASSETS}/swagger-ui-standalone-preset.js",
                    favicon='<link rel="icon" href="data:,">',
                )
            ],
        ),
        request_max_body_size=settings.max_request_bytes,
    )
    install_middleware(app, settings)  # CORS, request id, security headers, access log, WebSocket origins
    install_allow_fix(app)  # OPTIONS lists every method of the path
    declare_error_responses(app)  # every operation documents its ErrorBody errors
    declare_event_stream(app, "/api/v1/chat/stream")  # SSE, not JSON
    declare_event_stream(app, "/api/v1/chat/stream/{session_id}/{agent_id}", "get")
    declare_closed_shapes(app, AgentBody, AgentPatchBody)  # unknown fields are refused (422 invalid_request)
    declare_document_body(app, "/api/v1/agents/{agent_id}/documents")
    declare_message_limit(app, settings.max_message_chars, ChatBody, LegacyChatBody)
    declare_model_rule(app, _model_providers(container), AgentBody, AgentPatchBody)
    return app


def _model_providers(container: Container) -> tuple[str, ...] | None:
    """The providers an agent's model may name, for the schema; None (any) when the chat model cannot be
    built yet: the lifespan then reports the broken setting as a startup failure, as before."""
    try:
        return container.chat_model().model_providers()
    except Exception:
        return None
