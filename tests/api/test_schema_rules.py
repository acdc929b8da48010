"""The OpenAPI document states the domain's input rules (domain/rules.py), not a copy of them: each bound the
schema declares is where the domain's own check flips from accepting to refusing."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import msgspec
import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from domain import rules
from domain.agents import AgentSpec
from domain.conversations import validate_message_text
from domain.errors import CentralitaError
from domain.knowledge import validate_source, validate_text, validate_title
from domain.visitors import normalize_origin, validate_session_id
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.http.error_body import ErrorBody, error_body
from entrypoints.http.events import error_payload
from entrypoints.settings import Settings
from tests.fakes.chat_model import ScriptedChatModel

MESSAGE_CHARS = 1234  # not the default: the schema must say the configured value


@pytest.fixture(scope="module")
def document() -> Iterator[dict[str, Any]]:
    settings = Settings(_env_file=None, STORAGE="memory", MAX_MESSAGE_CHARS=MESSAGE_CHARS)
    container = build_container(settings)
    container.chat_model.override(providers.Object(ScriptedChatModel()))
    with TestClient(create_app(settings, container)) as client:
        yield client.get("/docs/openapi.json").json()


def accepted(check: Callable[[], object]) -> bool:
    try:
        check()
    except CentralitaError:
        return False
    return True


def agent(**fields: Any) -> Callable[[], object]:
    spec: dict[str, Any] = {"name": "Ventas", "system_prompt": "Eres amable.", **fields}
    return AgentSpec(**spec).validated


def component(document: dict[str, Any], name: str) -> dict[str, Any]:
    schema: dict[str, Any] = document["components"]["schemas"][name]
    return schema


def prop(schema: dict[str, Any], name: str) -> dict[str, Any]:
    """A property's own rules, through the `oneOf [..., null]` of an optional field."""
    field: dict[str, Any] = schema["properties"][name]
    for option in field.get("oneOf", []):
        if option.get("type") != "null":
            return {**field, **option}
    return field


def test_the_session_id_rule_is_the_domains(document: dict[str, Any]) -> None:
    chat = component(document, "ChatBody")
    pattern = prop(chat, "session_id")["pattern"]
    history = document["paths"]["/api/v1/chat/history/{session_id}/{agent_id}"]["get"]["parameters"]
    assert {p["schema"]["pattern"] for p in history if p["name"] == "session_id"} == {pattern}
    longest = "a" * rules.MAX_SESSION_ID_CHARS
    for session_id in (longest, longest + "a", "a b", "a/b", "", "visitor-1.2:x_y", "ñ"):
        in_schema = re.fullmatch(pattern.strip("^$"), session_id) is not None
        assert in_schema == accepted(lambda s=session_id: validate_session_id(s)), session_id


def test_the_origin_rule_is_the_domains(document: dict[str, Any]) -> None:
    pattern = prop(component(document, "ChatBody"), "origin")["pattern"]
    longest = "w" * rules.MAX_ORIGIN_CHARS
    for origin in (longest, longest + "w", "", "whats app", "web"):
        in_schema = re.fullmatch(pattern.strip("^$"), origin) is not None
        assert in_schema == accepted(lambda o=origin: normalize_origin(o)), origin


def test_the_message_limit_is_the_configured_one(document: dict[str, Any]) -> None:
    for body, field in (("ChatBody", "message"), ("LegacyChatBody", "mensaje")):
        declared = prop(component(document, body), field)
        assert declared["maxLength"] == MESSAGE_CHARS
        assert str(MESSAGE_CHARS) in declared["description"]


@pytest.mark.parametrize("body", ["AgentBody", "AgentPatchBody"])
def test_agent_text_bounds_are_where_the_domain_flips(document: dict[str, Any], body: str) -> None:
    schema = component(document, body)
    for field in ("name", "system_prompt", "language", "greeting"):
        declared = prop(schema, field)
        longest = declared["maxLength"]
        assert accepted(agent(**{field: "x" * longest})), field
        assert not accepted(agent(**{field: "x" * (longest + 1)})), field
        shortest = declared.get("minLength", 0)
        if shortest:
            assert accepted(agent(**{field: "x" * shortest})), field
            assert not accepted(agent(**{field: "x" * (shortest - 1)})), field
        if "pattern" in declared:  # not blank: the same characters count as blank for both
            assert not accepted(agent(**{field: " \x1f\x06 "}))
            assert re.search(declared["pattern"], " \x1f\x06 ") is None


@pytest.mark.parametrize("body", ["AgentBody", "AgentPatchBody"])
def test_agent_number_bounds_are_where_the_domain_flips(document: dict[str, Any], body: str) -> None:
    schema = component(document, body)
    for field, step in (("temperature", 0.01), ("max_tokens", 1), ("k_documents", 1), ("min_score", 0.01)):
        declared = prop(schema, field)
        low, high = declared["minimum"], declared["maximum"]
        assert accepted(agent(**{field: low})) and accepted(agent(**{field: high})), field
        assert not accepted(agent(**{field: low - step})), field
        assert not accepted(agent(**{field: high + step})), field


def test_document_bounds_are_where_the_domain_flips(document: dict[str, Any]) -> None:
    body = document["paths"]["/api/v1/agents/{agent_id}/documents"]["post"]["requestBody"]["content"]
    schema = body["application/json"]["schema"]
    title_chars = schema["properties"]["title"]["maxLength"]
    assert accepted(lambda: validate_title("t" * title_chars))
    assert not accepted(lambda: validate_title("t" * (title_chars + 1)))
    source_chars = prop(schema, "source")["maxLength"]
    assert accepted(lambda: validate_source("s" * source_chars))
    assert not accepted(lambda: validate_source("s" * (source_chars + 1)))
    # Counted as given, as the schema counts: blank space collapsed afterwards does not make room.
    assert not accepted(lambda: validate_title("t" + " " * title_chars))
    assert not accepted(lambda: validate_source("s" + " " * source_chars))
    for blank in ("\x06", " \x1f\x00\x0c ", "\x85"):
        assert re.search(schema["properties"]["text"]["pattern"], blank) is None
        assert not accepted(lambda b=blank: validate_text(b)), repr(blank)
        assert not accepted(lambda b=blank: validate_title(b)), repr(blank)


def test_every_error_schema_is_the_error_body(document: dict[str, Any]) -> None:
    fields = {field.encode_name: field.required for field in msgspec.structs.fields(ErrorBody)}
    assert set(component(document, "ErrorBody")["properties"]) == set(fields)
    for path_item in document["paths"].values():
        for operation in path_item.values():
            for status, response in operation.get("responses", {}).items():
                if status.startswith(("4", "5")) and "application/json" in response.get("content", {}):
                    schema = response["content"]["application/json"]["schema"]
                    assert set(schema["properties"]) == set(fields)
                    assert set(schema["required"]) == {name for name, required in fields.items() if required}


def test_the_stream_error_event_is_the_error_body_with_its_type() -> None:
    assert error_payload("rate_limited", "Wait.", 3) == {
        "type": "error",
        **error_body("rate_limited", "Wait.", 3),
    }
    assert error_payload("llm_unavailable", "Down.") == {
        "type": "error",
        "code": "llm_unavailable",
        "detail": "Down.",
    }


def test_a_document_of_control_characters_only_is_empty(client: TestClient) -> None:
    """Regression (schemathesis ST201): "\\u0006" was stored as a document, though the schema calls it blank."""
    docs = "/api/v1/agents/1/documents"
    for text in ("\u0006", "\x00\x1f \x0b"):
        refused = client.post(docs, json={"title": "Horario", "text": text})
        assert (refused.status_code, refused.json()["code"]) == (422, "empty_document"), repr(text)
    refused = client.post(docs, json={"title": "\u0006", "text": "Abrimos a las 9."})
    assert (refused.status_code, refused.json()["code"]) == (422, "invalid_document")
    kept = client.post(docs, json={"title": "Hor\u0007ario", "text": "Abrimos\u000ca las 9."})
    assert kept.status_code == 201 and kept.json()["title"] == "Hor ario"


class _OneModelOnly(ScriptedChatModel):
    def model_problem(self, model: str) -> str | None:
        return None if model == "groq:llama" else f"The model {model!r} cannot be used: ValueError."


async def test_an_agent_naming_a_model_no_provider_builds_is_refused() -> None:
    """Regression (schemathesis ST101): an agent saved with model ":x" answered every visitor 503."""
    from adapters.memory.agents import MemoryAgentRepository
    from application.agents import AgentService
    from domain.errors import InvalidAgent

    service = AgentService(MemoryAgentRepository(), models=_OneModelOnly())
    with pytest.raises(InvalidAgent, match="cannot be used"):
        await service.create(AgentSpec("Ventas", "Eres amable.", model=":x"))
    made = await service.create(AgentSpec("Ventas", "Eres amable.", model="groq:llama"))
    with pytest.raises(InvalidAgent):
        await service.patch(made.id, {"model": "nope:thing"})
    with pytest.raises(InvalidAgent):
        await service.replace(made.id, AgentSpec("Ventas", "Eres amable.", model=":x"))
    assert (await service.get(made.id)).spec.model == "groq:llama"


def test_the_langchain_model_check_refuses_an_unknown_provider_only_when_it_could_be_called(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("GROQ_API_KEY", raising=False)
    settings = Settings(_env_file=None, STORAGE="memory", GROQ_API_KEY="fake-key")
    models = build_container(settings).chat_model()
    assert models.model_problem("llama-3.1-8b-instant") is None
    assert models.model_problem("groq:any-name") is None
    assert "cannot be used" in str(models.model_problem(":abc"))
    assert "cannot be used" in str(models.model_problem("nope:thing"))
    keyless = build_container(Settings(_env_file=None, STORAGE="memory")).chat_model()
    assert (
        keyless.model_problem("groq:any-name") is None
    )  # the server's own provider: /ready says its key is unset
    # Another provider without its key: every chat with this agent would answer 503 (schemathesis ST101).
    monkeypatch.delenv("MISTRAL_API_KEY", raising=False)
    assert "MISTRAL_API_KEY" in str(models.model_problem("mistralai:mistral-small"))
    # A provider without keys that nothing points at (schemathesis ST101: "ollama:x", ConnectError).
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    assert "OLLAMA_HOST" in str(models.model_problem("ollama:llama3"))
    assert "mistralai" not in models.model_providers() and "groq" in models.model_providers()
    assert "ollama" not in models.model_providers()
    monkeypatch.setenv("OLLAMA_HOST", "http://127.0.0.1:11434")
    assert models.model_problem("ollama:llama3") is None


@pytest.mark.parametrize(
    "query",
    ["target=a&target=b", "agent_id=1&agent_id=2", "limit=1&limit=2"],
)
def test_query_values_are_what_the_schema_says(client: TestClient, query: str) -> None:
    """Regression (schemathesis ST201): Litestar read `?agent_id=5.0` as 5 and kept one of two `target`s,
    though the schema says one integer, one string."""
    refused = client.get(f"/api/v1/audit?{query}")
    assert (refused.status_code, refused.json()["code"]) == (422, "invalid_request"), query
    assert client.get("/api/v1/audit?agent_id=5&limit=10&offset=0&target=x").status_code == 200
    # JSON Schema counts 5.0 as an integer (schemathesis ST202 when it was refused).
    assert client.get("/api/v1/audit?agent_id=5.0&limit=10.0").status_code == 200
    assert client.get(f"/api/v1/conversations?{query.replace('target', 'session_id')}").status_code == 422


def test_a_message_with_a_lone_surrogate_never_reaches_the_model(
    client: TestClient, model: ScriptedChatModel
) -> None:
    """JSON can spell a lone surrogate (`"\\ud800"`), UTF-8 cannot: refused before the model, never a 5xx."""
    for message in (r"\ud800", r"hola \udfff", r"\ud83d x"):
        body = f'{{"agent_id": 1, "message": "{message}", "session_id": "s-1"}}'.encode()
        refused = client.post("/api/v1/chat", content=body, headers={"content-type": "application/json"})
        assert (refused.status_code, refused.json()["code"]) == (400, "malformed_json"), message
    assert not accepted(lambda: validate_message_text("\ud800", 10))
    assert model.requests == []


def test_the_schema_examples_follow_the_domain_rules(document: dict[str, Any]) -> None:
    for body, field in (("ChatBody", "message"), ("LegacyChatBody", "mensaje")):
        schema = component(document, body)
        (message,) = prop(schema, field)["examples"]
        assert validate_message_text(message, MESSAGE_CHARS) == message
        (session_id,) = prop(schema, "session_id")["examples"]
        assert validate_session_id(session_id) == session_id
        (origin,) = prop(schema, "origin")["examples"]
        assert normalize_origin(origin) == origin


def test_the_model_rule_in_the_schema_is_what_the_server_accepts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Regression (schemathesis ST202): the check of the model refused names the schema allowed."""
    monkeypatch.setenv("GROQ_API_KEY", "fake-key")
    for unset in ("OPENAI_API_KEY", "MISTRAL_API_KEY", "OLLAMA_HOST"):
        monkeypatch.delenv(unset, raising=False)
    settings = Settings(_env_file=None, STORAGE="memory")
    container = build_container(settings)
    schema = create_app(settings, container).openapi_schema.to_schema()["components"]["schemas"]
    models = container.chat_model()
    for body in ("AgentBody", "AgentPatchBody"):
        pattern = prop(schema[body], "model")["pattern"]
        for model in (
            "llama-3.1-8b-instant",
            "groq:",
            "groq: ",
            "ollama:\t",
            "groq::",
            "groq: x",
            "mistralai:small",
            "openai:gpt-4o",
            "ollama:llama3.2:latest",
            ":abc",
            "nope:thing",
            "a b",
            " ",
            "a\x03",
            "groq:a\x0f",
            "\x03\x8e>#:N",
            "ñandú",
        ):
            in_schema = re.search(pattern, model) is not None
            server = accepted(agent(model=model)) and models.model_problem(model) is None
            assert in_schema == server, (body, model)


def test_the_feeds_error_events_have_the_one_error_shape() -> None:
    from application.conversation_events import error_fields
    from entrypoints.http.error_body import error_body

    for args in (("resume_gap", "Reload."), ("rate_limited", "Wait.", 3.0)):
        assert error_fields(*args) == error_body(*args)
