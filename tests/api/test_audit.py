"""The audit log end to end: admin changes recorded with what changed, from where and in which request."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from application.ports.audit import AuditLog
from domain.audit import AuditEntry
from domain.errors import StoreUnavailable
from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.fakes.chat_model import ScriptedChatModel

AGENTS = "/api/v1/agents"
AUDIT = "/api/v1/audit"
PROMPT = "Eres el asistente de la tienda. " * 40  # long enough to be summarized


def audit(client: TestClient, **query: Any) -> list[dict[str, Any]]:
    response = client.get(AUDIT, params=query)
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()
    return entries


def changes(entry: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    return {c["field"]: (c["old"], c["new"]) for c in entry["changes"]}


def summary(text: str) -> str:
    return f"<{len(text)} chars, sha256 {hashlib.sha256(text.encode()).hexdigest()[:16]}>"


def test_agent_changes_are_recorded_with_fields_client_and_request_id(client: TestClient) -> None:
    created = client.post(
        AGENTS, json={"name": "Tienda", "system_prompt": PROMPT}, headers={"X-Request-ID": "op-1"}
    )
    assert created.status_code == 201
    agent_id = created.json()["id"]
    [entry] = audit(client)
    assert entry["action"] == "agent.created"
    assert (entry["target"], entry["agent_id"]) == (str(agent_id), agent_id)
    assert entry["client_address"] == "testclient"
    assert entry["request_id"] == created.headers["x-request-id"] == "op-1"
    assert entry["outcome"] == "succeeded"
    assert changes(entry)["name"] == (None, "Tienda")
    assert changes(entry)["system_prompt"] == (None, summary(PROMPT))

    patched = client.patch(f"{AGENTS}/{agent_id}", json={"name": "Tienda online", "temperature": 0.2})
    assert patched.status_code == 200
    entry = audit(client)[0]
    assert entry["action"] == "agent.updated"
    assert changes(entry) == {"name": ("Tienda", "Tienda online"), "temperature": (None, 0.2)}
    assert entry["request_id"] == patched.headers["x-request-id"]

    new_prompt = "Eres breve."
    replaced = client.put(f"{AGENTS}/{agent_id}", json={"name": "Tienda online", "system_prompt": new_prompt})
    assert replaced.status_code == 200
    entry = audit(client)[0]
    assert entry["action"] == "agent.replaced"
    assert changes(entry) == {
        "system_prompt": (summary(PROMPT), summary(new_prompt)),
        "temperature": (0.2, None),  # PUT: omitted fields take their defaults
    }

    deleted = client.delete(f"{AGENTS}/{agent_id}")
    assert deleted.status_code == 204
    entry = audit(client)[0]
    assert entry["action"] == "agent.deleted" and entry["target"] == str(agent_id)
    assert changes(entry)["name"] == ("Tienda online", None)
    assert entry["request_id"] == deleted.headers["x-request-id"]

    assert [e["action"] for e in audit(client)] == [
        "agent.deleted",
        "agent.replaced",
        "agent.updated",
        "agent.created",
    ]


def test_the_system_prompt_never_reaches_the_log(client: TestClient) -> None:
    client.post(AGENTS, json={"name": "Tienda", "system_prompt": "SECRET-PLAN-42 " * 10})
    entries = client.get(AUDIT).text
    assert "SECRET-PLAN-42" not in entries


def test_document_changes_are_recorded(client: TestClient) -> None:
    added = client.post(
        f"{AGENTS}/1/documents",
        json={"title": "Devoluciones", "text": "Tienes 30 días para devolver un producto."},
    )
    assert added.status_code == 201, added.text
    document_id = added.json()["document_id"]
    [entry] = audit(client)
    assert entry["action"] == "document.added"
    assert (entry["target"], entry["agent_id"]) == (document_id, 1)
    assert changes(entry) == {"title": (None, "Devoluciones"), "source": (None, None), "chunks": (None, 1)}
    assert entry["request_id"] == added.headers["x-request-id"]

    removed = client.delete(f"{AGENTS}/1/documents/{document_id}")
    assert removed.status_code == 204
    entry = audit(client)[0]
    assert (entry["action"], entry["target"], entry["agent_id"]) == ("document.deleted", document_id, 1)
    assert entry["client_address"] == "testclient"

    assert [e["action"] for e in audit(client, target=document_id)] == ["document.deleted", "document.added"]


def test_failed_changes_and_reads_are_not_recorded(client: TestClient) -> None:
    assert client.post(AGENTS, json={"name": "", "system_prompt": "x"}).status_code == 422
    assert client.patch(f"{AGENTS}/99", json={"name": "x"}).status_code == 404
    assert client.delete(f"{AGENTS}/1/documents/nope").status_code == 404
    assert client.get(AGENTS).status_code == 200
    assert audit(client) == []


def test_filters_and_paging(client: TestClient) -> None:
    ids = [client.post(AGENTS, json={"name": f"A{i}", "system_prompt": "x"}).json()["id"] for i in range(3)]
    client.patch(f"{AGENTS}/{ids[0]}", json={"name": "B"})
    assert [e["target"] for e in audit(client, action="agent.created")] == [str(i) for i in reversed(ids)]
    assert [e["action"] for e in audit(client, target=str(ids[0]))] == ["agent.updated", "agent.created"]
    assert [e["action"] for e in audit(client, agent_id=ids[0])] == ["agent.updated", "agent.created"]
    assert [e["target"] for e in audit(client, limit=2, offset=1)] == [str(ids[2]), str(ids[1])]
    bad = client.get(AUDIT, params={"action": "agent.exploded"})
    assert (bad.status_code, bad.json()["code"]) == (422, "invalid_input")
    assert client.get(AUDIT, params={"limit": 0}).status_code == 422


def test_each_entry_is_one_info_line_without_values(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="centralita.audit"):
        response = client.post(AGENTS, json={"name": "Confidencial", "system_prompt": "SECRET-PLAN-42"})
    lines = [r for r in caplog.records if r.name == "centralita.audit"]
    assert len(lines) == 1 and lines[0].levelno == logging.INFO
    message = lines[0].getMessage()
    assert f"agent.created target={response.json()['id']}" in message
    assert "client=testclient" in message and f"request_id={response.headers['x-request-id']}" in message
    assert "fields=name,system_prompt," in message
    assert "SECRET-PLAN-42" not in message and "Confidencial" not in message


@pytest.fixture
def keyed_client(model: ScriptedChatModel) -> Iterator[TestClient]:
    settings = Settings(_env_file=None, STORAGE="memory", ADMIN_API_KEY="admin-test-key")
    container = build_container(settings)
    container.chat_model.override(providers.Object(model))
    with TestClient(create_app(settings, container)) as test_client:
        yield test_client


def test_a_refused_admin_call_is_logged_and_not_recorded(
    keyed_client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="centralita.audit"):
        refused = keyed_client.post(
            AGENTS, json={"name": "Intruso", "system_prompt": "x"}, headers={"X-API-Key": "guessed-key-123"}
        )
        missing = keyed_client.delete(f"{AGENTS}/1")
    assert (refused.status_code, missing.status_code) == (401, 401)
    warnings = [r.getMessage() for r in caplog.records if r.name == "centralita.audit"]
    assert len(warnings) == 2
    assert all(r.levelno == logging.WARNING for r in caplog.records if r.name == "centralita.audit")
    assert "POST /api/v1/agents 401 from testclient (X-API-Key wrong)" in warnings[0]
    assert "DELETE /api/v1/agents/{agent_id} 401 from testclient (X-API-Key missing)" in warnings[1]
    assert "guessed-key-123" not in caplog.text and "admin-test-key" not in caplog.text
    entries = keyed_client.get(AUDIT, headers={"X-API-Key": "admin-test-key"})
    assert (entries.status_code, entries.json()) == (200, [])


class BrokenAuditLog(AuditLog):
    async def record(self, entry: AuditEntry) -> None:
        raise StoreUnavailable("The conversation store is unavailable: could not record an audit entry (X).")

    async def list(self, limit: int, offset: int, **filters: Any) -> list[AuditEntry]:
        return []


def test_an_entry_that_cannot_be_stored_fails_the_request_loudly(
    settings: Settings, model: ScriptedChatModel, caplog: pytest.LogCaptureFixture
) -> None:
    container = build_container(settings)
    container.chat_model.override(providers.Object(model))
    container.audit_log.override(providers.Object(BrokenAuditLog()))
    with TestClient(create_app(settings, container)) as client, caplog.at_level(logging.ERROR):
        response = client.post(
            AGENTS, json={"name": "Tienda", "system_prompt": "x"}, headers={"X-Request-ID": "op-9"}
        )
    assert (response.status_code, response.json()["code"]) == (503, "store_unavailable")
    errors = [
        r.getMessage() for r in caplog.records if r.name == "centralita.audit" and r.levelno == logging.ERROR
    ]
    assert len(errors) == 1
    assert "audit entry NOT stored: agent.created" in errors[0] and "request_id=op-9" in errors[0]
