"""Scale-out: several processes serve the same agents, conversations and knowledge through one MongoDB.

* two hosts (two `centralita serve` processes) against one MongoDB: what one writes, the other reads — agents,
  conversations and their history, knowledge (each keeps its own local index and catches up within
  KNOWLEDGE_SYNC_SECONDS), deletions too;
* `centralita serve --workers 2` on the embedded store: the parent runs the one embedded server, and turns
  landing on either worker find the knowledge loaded through the other.

No per-process state may break this: see docs/performance.md ("Scale-out").
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from entrypoints.cli.serve import SharedEmbeddedStore
from tests.e2e.server import running_server
from tests.fakes.fake_llm import FakeLLMServer

KEY = "scale-key"
SECRET = "El código del almacén de Sevilla es ZORRO-42 y abre a las siete."


@pytest.fixture(scope="module")
def fake_groq() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(api_keys=KEY, answer_tokens=6).run_in_thread() as server:
        yield server


def _env(fake_groq: FakeLLMServer, **extra: str) -> dict[str, str]:
    return {
        "GROQ_API_KEY": KEY,
        "GROQ_BASE_URL": str(fake_groq.base_url),
        "STORAGE": "mongodb",
        "KNOWLEDGE_SYNC_SECONDS": "0.5",
        "RATE_LIMIT_SESSION_PER_MINUTE": "0",
        "RATE_LIMIT_IP_PER_MINUTE": "0",
        **extra,
    }


def _chat(url: str, session: str, agent_id: int, message: str) -> dict[str, Any]:
    with httpx.Client(timeout=30) as client:  # a new connection each time
        r = client.post(
            f"{url}/api/v1/chat", json={"agent_id": agent_id, "message": message, "session_id": session}
        )
    assert r.status_code == 200, r.text
    answer: dict[str, Any] = r.json()
    return answer


def _sources_within(url: str, session: str, agent_id: int, seconds: float = 10) -> list[str]:
    """Asks until the turn's sources name the document (another process may need a sync interval)."""
    deadline = time.monotonic() + seconds
    while True:
        titles = [
            s["title"] for s in _chat(url, session, agent_id, "¿Cuál es el código del almacén?")["sources"]
        ]
        if "Almacén de Sevilla" in titles or time.monotonic() > deadline:
            return titles
        time.sleep(0.3)


def test_two_hosts_against_one_mongodb_share_agents_conversations_and_knowledge(
    fake_groq: FakeLLMServer, tmp_path: Path
) -> None:
    store = SharedEmbeddedStore(tmp_path / "data")
    uri = store.start()
    try:
        env = _env(fake_groq, MONGODB_URI=uri)
        with running_server(env, tmp_path) as a, running_server(env, tmp_path) as b:
            # an agent created on one host is served by the other
            created = httpx.post(
                f"{a}/api/v1/agents",
                json={"name": "Logística", "system_prompt": "Eres logística."},
                timeout=30,
            )
            assert created.status_code == 201, created.text
            agent_id = created.json()["id"]
            assert httpx.get(f"{b}/api/v1/agents/{agent_id}", timeout=30).json()["name"] == "Logística"

            # knowledge loaded through A is retrieved through B within seconds
            doc = httpx.post(
                f"{a}/api/v1/agents/{agent_id}/documents",
                json={"title": "Almacén de Sevilla", "text": SECRET},
                timeout=60,
            )
            assert doc.status_code == 201, doc.text
            assert "Almacén de Sevilla" in _sources_within(b, "scale-1", agent_id)

            # a conversation begun on B continues on A, with B's history in A's prompt
            first = _chat(b, "scale-2", agent_id, "me llamo Ana")
            second = _chat(a, "scale-2", agent_id, "¿cómo me llamo?")
            assert first["conversation_id"] == second["conversation_id"]
            prompt = [m["content"] for m in fake_groq.last_request["messages"]]  # type: ignore[index]
            assert "me llamo Ana" in prompt and first["answer"] in prompt
            messages = httpx.get(
                f"{b}/api/v1/conversations/{second['conversation_id']}/messages", timeout=30
            ).json()
            assert [m["content"] for m in messages] == [
                "me llamo Ana",
                first["answer"],
                "¿cómo me llamo?",
                second["answer"],
            ]
            assert httpx.get(f"{a}/api/v1/visitors/scale-2", timeout=30).json()["message_count"] == 2

            # a document deleted through B leaves A's retrieval too
            deleted = httpx.delete(
                f"{b}/api/v1/agents/{agent_id}/documents/{doc.json()['document_id']}", timeout=30
            )
            assert deleted.status_code == 204
            deadline = time.monotonic() + 10
            while "Almacén de Sevilla" in [
                s["title"]
                for s in _chat(a, "scale-3", agent_id, "¿Cuál es el código del almacén?")["sources"]
            ]:
                assert time.monotonic() < deadline, "host A still retrieves a deleted document"
                time.sleep(0.3)
    finally:
        store.stop()


def test_two_workers_on_the_embedded_store_serve_knowledge_loaded_through_either(
    fake_groq: FakeLLMServer, tmp_path: Path
) -> None:
    env = _env(fake_groq, DATA_DIR=str(tmp_path / "data"))
    with running_server(env, tmp_path, timeout=90, args=["--workers", "2"], ready_path="/ready") as url:
        created = httpx.post(
            f"{url}/api/v1/agents", json={"name": "Logística", "system_prompt": "Eres logística."}, timeout=30
        )
        agent_id = created.json()["id"]
        doc = httpx.post(
            f"{url}/api/v1/agents/{agent_id}/documents",
            json={"title": "Almacén de Sevilla", "text": SECRET},
            timeout=60,
        )
        assert doc.status_code == 201, doc.text
        time.sleep(1.0)  # two sync intervals: every worker has caught up
        for i in range(8):  # new connections: the kernel spreads them over both workers
            titles = [
                s["title"]
                for s in _chat(url, f"scale-w-{i}", agent_id, "¿Cuál es el código del almacén?")["sources"]
            ]
            assert "Almacén de Sevilla" in titles
        conversations = httpx.get(
            f"{url}/api/v1/conversations", params={"agent_id": agent_id}, timeout=30
        ).json()
        assert sorted(c["message_count"] for c in conversations) == [2] * 8
