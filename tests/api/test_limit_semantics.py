"""`limit` on the two message listings: the widget restores the LAST N, the admin listing pages from the
oldest. Both are kept (changing either would break its client) and the schema says which is which."""

from __future__ import annotations

from litestar.testing import TestClient

HISTORY = "/api/v1/chat/history/{session_id}/{agent_id}"
MESSAGES = "/api/v1/conversations/{conversation_id}/messages"


def talk(client: TestClient) -> str:
    for text in ("uno", "dos", "tres"):
        body = {"agent_id": 1, "message": text, "session_id": "lim-1"}
        assert client.post("/api/v1/chat", json=body).status_code == 200
    [conversation] = client.get("/api/v1/conversations", params={"session_id": "lim-1"}).json()
    return str(conversation["id"])


def test_history_limit_is_the_last_n_and_messages_limit_pages_from_the_oldest(client: TestClient) -> None:
    conversation_id = talk(client)
    history = client.get("/api/v1/chat/history/lim-1/1", params={"limit": 2}).json()
    assert [m["content"] for m in history] == ["tres", "Echo: tres"]  # the newest two, oldest first
    page = client.get(f"/api/v1/conversations/{conversation_id}/messages", params={"limit": 2}).json()
    assert [m["content"] for m in page] == ["uno", "Echo: uno"]  # the oldest two
    following = client.get(
        f"/api/v1/conversations/{conversation_id}/messages", params={"limit": 2, "offset": 2}
    ).json()
    assert [m["content"] for m in following] == ["dos", "Echo: dos"]


def limit_description(client: TestClient, path: str) -> str:
    operation = client.get("/docs/openapi.json").json()["paths"][path]["get"]
    [limit] = [p for p in operation["parameters"] if p["name"] == "limit"]
    return str(limit.get("description", ""))


def test_the_schema_says_what_limit_means_on_each_route(client: TestClient) -> None:
    history = limit_description(client, HISTORY)
    assert "newest" in history and "oldest first" in history
    messages = limit_description(client, MESSAGES)
    assert "oldest" in messages and "offset" in messages
