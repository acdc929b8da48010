"""The sources of an answer, through the HTTP routes: clean snippets, the document's heading as its title,
one source per document — the same on REST, SSE, the WebSocket and the stored message."""

from __future__ import annotations

import json

from litestar.testing import TestClient

from tests.fakes.chat_model import ScriptedChatModel

DOCS = "/api/v1/agents/1/documents"

BILLING_MD = """# Facturas y pagos

La **factura** mensual llega el día 1 por correo electrónico. Puedes consultarla en el
[área de clientes](https://example.com/area) y descargarla en PDF.

## Formas de pago

- Domiciliación bancaria en tu cuenta: el cargo se hace el día 5 de cada mes.
- Tarjeta de crédito o débito, desde la aplicación móvil.
- Transferencia a la cuenta `ES00 0000 0000 0000`.

| Plan | Precio |
|------|--------|
| Fibra 600 Mb | 30 € al mes |

<p>Si un <em>pago</em> se devuelve, te avisamos por SMS y puedes pagar de nuevo sin recargo.</p>

## Pagos atrasados

Si la factura no se paga en 15 días, el servicio se limita a llamadas de emergencia hasta que se abone. """ + (
    "Puedes pagar la deuda en cualquier momento desde la aplicación y el servicio vuelve en minutos. " * 4
)
QUESTION = "¿Cómo puedo pagar la factura y qué pasa si la pago tarde?"
MARKUP = ("#", "**", "](", "`", "|", "<p>", "<em>", "- ")


def _upload(client: TestClient) -> dict[str, object]:
    response = client.post(DOCS, files={"file": ("facturas-2024.md", BILLING_MD.encode(), "text/markdown")})
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


def _check(sources: list[dict[str, object]], document_id: object) -> None:
    assert [s["document_id"] for s in sources] == [document_id]  # its chunks are one source
    [source] = sources
    assert source["title"] == "Facturas y pagos"
    snippet = str(source["snippet"])
    assert snippet and not any(mark in snippet for mark in MARKUP), snippet
    assert not snippet.startswith("Facturas y pagos")  # the title is not repeated
    assert "  " not in snippet and "\n" not in snippet and len(snippet) <= 300


def test_a_markdown_upload_is_titled_by_its_heading_and_cited_once_in_clean_text(
    client: TestClient, model: ScriptedChatModel
) -> None:
    added = _upload(client)
    assert added["title"] == "Facturas y pagos" and int(str(added["chunks"])) >= 2
    assert client.get(DOCS).json()[0]["title"] == "Facturas y pagos"

    answer = client.post(
        "/api/v1/chat", json={"agent_id": 1, "message": QUESTION, "session_id": "s-src"}
    ).json()
    _check(answer["sources"], added["document_id"])
    # The model still reads every retrieved chunk, Markdown and all.
    system = model.requests[-1].messages[0].content
    assert system.count("[1] Facturas y pagos") == 1 and "[2] Facturas y pagos" in system
    assert "**factura**" in system

    messages = client.get(f"/api/v1/conversations/{answer['conversation_id']}/messages").json()
    assert messages[-1]["sources"] == answer["sources"]

    with client.stream(
        "POST", "/api/v1/chat/stream", json={"agent_id": 1, "message": QUESTION, "session_id": "s-src"}
    ) as stream:
        events = [json.loads(line[5:]) for line in stream.iter_lines() if line.startswith("data:")]
    [streamed] = [e["sources"] for e in events if e["type"] == "sources"]
    assert streamed == answer["sources"]

    with client.websocket_connect("/api/v1/chat/stream/s-src-ws/1") as socket:
        socket.send_json({"message": QUESTION})
        frames = []
        while not frames or frames[-1]["type"] not in ("end", "error"):
            frames.append(socket.receive_json())
    [sent] = [f["sources"] for f in frames if f["type"] == "sources"]
    assert sent == answer["sources"]


def test_an_explicit_title_wins_over_the_heading(client: TestClient) -> None:
    files = {"file": ("f.md", BILLING_MD.encode(), "text/markdown")}
    assert client.post(DOCS, files=files, data={"title": "Pagos"}).json()["title"] == "Pagos"
    as_json = client.post(DOCS, json={"title": "Facturación", "text": BILLING_MD}).json()
    assert as_json["title"] == "Facturación"
