"""The documents routes end to end (STORAGE=memory, the default embedder) and knowledge in a chat turn."""

from __future__ import annotations

import asyncio

import pytest
from dependency_injector import providers
from litestar.testing import TestClient

from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.settings import Settings
from tests.adapters.knowledge.pdf import pdf_bytes
from tests.fakes.chat_model import ScriptedChatModel

DOCS = "/api/v1/agents/{}/documents"

RETURNS_ES = (
    "Devoluciones en la tienda online: puedes devolver cualquier producto comprado en la web durante los 30 "
    "días siguientes a la entrega, sin dar explicaciones. El reembolso se hace en la misma tarjeta en un "
    "plazo de 5 días hábiles desde que recibimos el paquete."
)
ROUTER_EN = (
    "Router setup: plug the fibre cable into the green port, wait until the light turns white and connect "
    "to the Wi-Fi network printed on the sticker under the router."
)
ROAMING_EN = (
    "Roaming: inside the European Union your plan works exactly as at home. Outside the EU a daily pass "
    "costs 5 euros and includes 1 GB of data."
)


def add(client: TestClient, agent_id: int, title: str, text: str) -> str:
    response = client.post(DOCS.format(agent_id), json={"title": title, "text": text})
    assert response.status_code == 201, response.text
    return str(response.json()["document_id"])


def new_agent(client: TestClient, name: str = "Shop") -> int:
    response = client.post("/api/v1/agents", json={"name": name, "system_prompt": "Help shoppers."})
    assert response.status_code == 201
    return int(response.json()["id"])


def test_json_document_is_added_listed_and_deleted(client: TestClient) -> None:
    response = client.post(
        DOCS.format(1), json={"title": "Devoluciones", "text": RETURNS_ES, "source": "https://shop/faq"}
    )
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"document_id", "title", "chunks"}
    assert body["title"] == "Devoluciones" and body["chunks"] == 1

    listed = client.get(DOCS.format(1)).json()
    assert [(d["document_id"], d["title"], d["source"], d["chunks"]) for d in listed] == [
        (body["document_id"], "Devoluciones", "https://shop/faq", 1)
    ]
    assert listed[0]["created_at"].endswith("Z") or "+00:00" in listed[0]["created_at"]

    assert client.delete(f"{DOCS.format(1)}/{body['document_id']}").status_code == 204
    assert client.get(DOCS.format(1)).json() == []
    gone = client.delete(f"{DOCS.format(1)}/{body['document_id']}")
    assert gone.status_code == 404 and gone.json()["code"] == "document_not_found"


def test_long_text_is_split_into_chunks_and_the_list_is_paged(client: TestClient) -> None:
    long_text = "\n\n".join(
        f"Paragraph {i}. " + "Our shop sells phones and routers. " * 10 for i in range(10)
    )
    response = client.post(DOCS.format(1), json={"title": "Long", "text": long_text})
    assert response.json()["chunks"] > 5
    add(client, 1, "Second", ROUTER_EN)
    assert [d["title"] for d in client.get(DOCS.format(1), params={"limit": 1, "offset": 1}).json()] == [
        "Second"
    ]


@pytest.mark.parametrize(
    ("filename", "media_type", "data", "title"),
    [
        ("devoluciones.txt", "text/plain", RETURNS_ES.encode(), "devoluciones"),
        ("devoluciones.md", "text/markdown", f"# Devoluciones\n\n{RETURNS_ES}".encode(), "Devoluciones"),
        (
            "devoluciones.pdf",
            "application/pdf",
            pdf_bytes(["Devoluciones", RETURNS_ES[:90], RETURNS_ES[90:]]),
            "devoluciones",  # a PDF without a metadata title
        ),
    ],
)
def test_files_are_uploaded_as_multipart(
    client: TestClient, filename: str, media_type: str, data: bytes, title: str
) -> None:
    response = client.post(DOCS.format(1), files={"file": (filename, data, media_type)})
    assert response.status_code == 201, response.text
    assert response.json()["title"] == title
    [listed] = client.get(DOCS.format(1)).json()
    assert listed["source"] == filename
    answer = client.post(
        "/api/v1/chat",
        json={"agent_id": 1, "message": "¿Cuántos días tengo para devolver?", "session_id": "s-1"},
    ).json()
    assert answer["sources"][0]["document_id"] == response.json()["document_id"]
    assert "30" in answer["sources"][0]["snippet"]


def test_multipart_title_and_source_fields_are_used(client: TestClient) -> None:
    response = client.post(
        DOCS.format(1),
        files={"file": ("r.txt", ROUTER_EN.encode(), "text/plain")},
        data={"title": "Router", "source": "manual v2"},
    )
    assert response.json()["title"] == "Router"
    assert client.get(DOCS.format(1)).json()[0]["source"] == "manual v2"


@pytest.mark.parametrize(
    ("request_kwargs", "code"),
    [
        # a raw body is neither JSON nor a form: the wrong media type (issue 12, item 2), not a document type
        ({"content": b"\x89PNG", "headers": {"content-type": "image/png"}}, "unsupported_media_type"),
        (
            {"files": {"file": ("contract.docx", b"PK\x03\x04", "application/octet-stream")}},
            "unsupported_document_type",
        ),
        ({"files": {"file": ("photo.png", b"\x89PNG", "image/png")}}, "unsupported_document_type"),
    ],
)
def test_unsupported_types_are_refused_with_415(client: TestClient, request_kwargs: dict, code: str) -> None:
    response = client.post(DOCS.format(1), **request_kwargs)
    assert response.status_code == 415
    assert response.json()["code"] == code


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"json": {"title": "Empty", "text": "  \n "}},
        {"files": {"file": ("empty.txt", b"   ", "text/plain")}},
        {"files": {"file": ("blank.pdf", pdf_bytes([""]), "application/pdf")}},
    ],
)
def test_empty_text_is_refused_with_422(client: TestClient, request_kwargs: dict) -> None:
    response = client.post(DOCS.format(1), **request_kwargs)
    assert response.status_code == 422
    assert response.json()["code"] == "empty_document"


def test_bad_bodies_are_client_errors(client: TestClient) -> None:
    missing = client.post(DOCS.format(1), json={"title": "No text"})
    assert missing.status_code == 422 and missing.json()["code"] == "invalid_request"
    broken = client.post(DOCS.format(1), content=b"{nope", headers={"content-type": "application/json"})
    assert broken.status_code == 400 and broken.json()["code"] == "malformed_json"
    no_file = client.post(DOCS.format(1), files={"title": (None, "x")})
    assert no_file.status_code == 422
    broken_pdf = client.post(
        DOCS.format(1), files={"file": ("x.pdf", b"%PDF-1.4 garbage", "application/pdf")}
    )
    assert broken_pdf.status_code == 422 and broken_pdf.json()["code"] == "invalid_document"


def test_unknown_agent_is_404(client: TestClient) -> None:
    for response in (
        client.post(DOCS.format(404), json={"title": "x", "text": "y"}),
        client.get(DOCS.format(404)),
        client.delete(f"{DOCS.format(404)}/abc"),
    ):
        assert response.status_code == 404 and response.json()["code"] == "agent_not_found"


class TestSizeLimit:
    @pytest.fixture
    def settings(self) -> Settings:
        return Settings(_env_file=None, STORAGE="memory", MAX_DOCUMENT_MB=0.05)  # 51,200 bytes

    @pytest.mark.parametrize(
        "request_kwargs",
        [
            {"json": {"title": "Big", "text": "a" * 60_000}},
            {"files": {"file": ("big.txt", b"a" * 60_000, "text/plain")}},
            {"files": {"file": ("huge.txt", b"a" * 400_000, "text/plain")}},  # beyond the body limit
            {"content": b"a" * 400_000, "headers": {"content-type": "application/json"}},
        ],
    )
    def test_documents_over_the_limit_are_refused_with_413(
        self, client: TestClient, request_kwargs: dict
    ) -> None:
        response = client.post(DOCS.format(1), **request_kwargs)
        assert response.status_code == 413
        assert response.json()["code"] == "document_too_large"
        assert client.get(DOCS.format(1)).json() == []

    def test_a_document_under_the_limit_is_accepted(self, client: TestClient) -> None:
        response = client.post(
            DOCS.format(1), files={"file": ("ok.txt", b"Our shop opens at 9. " * 2000, "text/plain")}
        )
        assert response.status_code == 201


def test_documents_are_admin_only(settings: Settings, model: ScriptedChatModel) -> None:
    settings = Settings(_env_file=None, STORAGE="memory", ADMIN_API_KEY="s3cret")
    container = build_container(settings)
    container.chat_model.override(providers.Object(model))
    with TestClient(create_app(settings, container)) as client:
        assert client.get(DOCS.format(1)).status_code == 401
        assert client.post(DOCS.format(1), json={"title": "x", "text": "y"}).status_code == 401
        assert client.get(DOCS.format(1), headers={"X-API-Key": "s3cret"}).status_code == 200


def test_an_agent_never_sees_or_deletes_another_agents_documents(client: TestClient) -> None:
    other = new_agent(client)
    secret = add(client, 1, "Devoluciones", RETURNS_ES)
    assert client.get(DOCS.format(other)).json() == []
    assert client.delete(f"{DOCS.format(other)}/{secret}").status_code == 404
    answer = client.post(
        "/api/v1/chat", json={"agent_id": other, "message": "How do I return a product?", "session_id": "s-2"}
    ).json()
    assert answer["sources"] == []
    assert len(client.get(DOCS.format(1)).json()) == 1


def test_deleting_an_agent_deletes_its_knowledge(client: TestClient) -> None:
    agent = new_agent(client)
    add(client, agent, "Devoluciones", RETURNS_ES)
    container = client.app.state.container
    assert client.delete(f"/api/v1/agents/{agent}").status_code == 204
    assert asyncio.run(container.knowledge_store().documents(agent, 100, 0)) == []  # memory: no loop state


@pytest.fixture
def three_documents(client: TestClient) -> dict[str, str]:
    return {
        "returns": add(client, 1, "Devoluciones", RETURNS_ES),
        "router": add(client, 1, "Router setup", ROUTER_EN),
        "roaming": add(client, 1, "Roaming", ROAMING_EN),
    }


def test_an_english_question_is_answered_from_the_spanish_document(
    client: TestClient, model: ScriptedChatModel, three_documents: dict[str, str]
) -> None:
    response = client.post(
        "/api/v1/chat",
        json={
            "agent_id": 1,
            "message": "How many days do I have to return something I bought online?",
            "session_id": "visitor-en",
        },
    )
    assert response.status_code == 200
    sources = response.json()["sources"]
    assert sources[0]["document_id"] == three_documents["returns"]
    assert sources[0]["title"] == "Devoluciones"
    assert -1 <= sources[-1]["score"] <= sources[0]["score"] <= 1
    assert len(sources) <= 4  # k_documents

    system = model.requests[-1].messages[0].content
    assert "<<<CONTEXT>>>" in system and RETURNS_ES in system
    assert system.index(RETURNS_ES) > system.index("<<<CONTEXT>>>")

    conversation = response.json()["conversation_id"]
    messages = client.get(f"/api/v1/conversations/{conversation}/messages").json()
    assert messages[-1]["sources"][0]["document_id"] == three_documents["returns"]


def test_the_stream_names_the_sources_and_min_score_drops_weak_chunks(
    client: TestClient, three_documents: dict[str, str]
) -> None:
    with client.websocket_connect("/api/v1/chat/stream/visitor-ws/1") as socket:
        socket.send_json({"message": "my router light is red, how do I set it up?"})
        events = []
        while not events or events[-1]["type"] not in ("end", "error"):
            events.append(socket.receive_json())
    [sources] = [e["sources"] for e in events if e["type"] == "sources"]
    assert sources[0]["document_id"] == three_documents["router"]

    weakest = sources[-1]["score"]
    client.patch("/api/v1/agents/1", json={"min_score": weakest + 0.01, "k_documents": 10})
    answer = client.post(
        "/api/v1/chat",
        json={
            "agent_id": 1,
            "message": "my router light is red, how do I set it up?",
            "session_id": "visitor-ws",
        },
    ).json()
    assert answer["sources"] and all(s["score"] >= weakest + 0.01 for s in answer["sources"])
    assert len(answer["sources"]) < len(sources)


def test_a_deleted_document_is_never_retrieved_again(
    client: TestClient, three_documents: dict[str, str]
) -> None:
    client.delete(f"{DOCS.format(1)}/{three_documents['returns']}")
    answer = client.post(
        "/api/v1/chat", json={"agent_id": 1, "message": "How do I return a product?", "session_id": "s-3"}
    ).json()
    assert three_documents["returns"] not in {s["document_id"] for s in answer["sources"]}
