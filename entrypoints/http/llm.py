"""LLM diagnostics (admin): a real round trip, the provider's models, the key check; and legacy aliases."""

from __future__ import annotations

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency

from application.diagnostics import Diagnostics
from entrypoints.http.schemas import (
    KeyCheckOut,
    LlmTestOut,
    ModelsOut,
    key_check_out,
    llm_test_out,
    models_out,
)
from entrypoints.http.security import admin_guard


class LlmController(Controller):
    path = "/api/v1/llm"
    tags = ["llm"]
    guards = [admin_guard]

    @get("/test", summary="A real round trip to the provider (503 when it fails)")
    async def test_llm(self, diagnostics: NamedDependency[Diagnostics]) -> Response[LlmTestOut]:
        check = await diagnostics.test_llm()
        return Response(llm_test_out(check), status_code=200 if check.ok else 503)

    @get("/models", summary="The provider's models")
    async def models(self, diagnostics: NamedDependency[Diagnostics]) -> ModelsOut:
        return models_out(await diagnostics.list_models())

    @post("/verify-api-key", status_code=200, summary="Whether the provider accepts the configured key")
    async def verify_api_key(self, diagnostics: NamedDependency[Diagnostics]) -> KeyCheckOut:
        return key_check_out(await diagnostics.verify_key())


class LegacyGroqController(LlmController):
    path = "/api/v1/groq"
    tags = ["legacy"]
