"""`GET /metrics`: Prometheus text whose counters move with the turns, requests and connections served."""

from __future__ import annotations

import time

from dependency_injector import providers
from litestar.testing import TestClient
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from entrypoints.container import build_container
from entrypoints.http.app import create_app
from entrypoints.metrics import count_rate_limited
from entrypoints.settings import Settings
from tests.fakes.chat_model import ScriptedChatModel


def scrape(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def value(samples: dict, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(before: dict, after: dict, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def test_the_content_type_is_prometheus_text_with_one_charset(client: TestClient) -> None:
    response = client.get("/metrics")
    assert response.headers["content-type"] == "text/plain; version=1.0.0; charset=utf-8"


def test_a_rest_turn_moves_turns_tokens_latency_and_request_counters(client: TestClient) -> None:
    before = scrape(client)
    r = client.post("/api/v1/chat", json={"agent_id": 1, "message": "hola", "session_id": "m-1"})
    assert r.status_code == 200
    after = scrape(client)
    for _ in range(50):  # the server ends the closed connection's handler a moment after the client left
        if value(after, "centralita_websocket_connections") == value(
            before, "centralita_websocket_connections"
        ):
            break
        time.sleep(0.02)
        after = scrape(client)

    turns = "centralita_chat_turns_total"
    assert delta(before, after, turns, agent="1", channel="rest", outcome="complete", code="") == 1
    usage = r.json()["usage"]
    model = r.json()["model"]
    tokens = "centralita_llm_tokens_total"
    assert delta(before, after, tokens, model=model, direction="in") == usage["input_tokens"]
    assert delta(before, after, tokens, model=model, direction="out") == usage["output_tokens"]
    calls = "centralita_llm_duration_seconds_count"
    assert delta(before, after, calls, provider="fake", mode="complete") == 1
    assert delta(before, after, "centralita_retrieval_duration_seconds_count") == 1
    requests = "centralita_http_requests_total"
    assert delta(before, after, requests, method="POST", route="/api/v1/chat", status="200") == 1


def test_failures_are_counted_by_code_and_unknown_agents_do_not_make_new_series(
    client: TestClient, model: ScriptedChatModel
) -> None:
    before = scrape(client)
    assert (
        client.post(
            "/api/v1/chat", json={"agent_id": 987654, "message": "x", "session_id": "m-2"}
        ).status_code
        == 404
    )
    model.unavailable = "no key"
    assert (
        client.post("/api/v1/chat", json={"agent_id": 1, "message": "x", "session_id": "m-2"}).status_code
        == 503
    )
    after = scrape(client)
    for _ in range(50):  # the server ends the closed connection's handler a moment after the client left
        if value(after, "centralita_websocket_connections") == value(
            before, "centralita_websocket_connections"
        ):
            break
        time.sleep(0.02)
        after = scrape(client)

    turns = "centralita_chat_turns_total"
    assert (
        delta(before, after, turns, agent="none", channel="rest", outcome="failed", code="agent_not_found")
        == 1
    )
    assert (
        delta(before, after, turns, agent="1", channel="rest", outcome="failed", code="llm_unavailable") == 1
    )
    assert delta(before, after, "centralita_llm_errors_total", provider="fake", code="llm_unavailable") == 1
    assert not any("987654" in str(labels) for _, labels in after)
    assert not any("m-2" in str(labels) for _, labels in after)  # never a session id


def test_streams_count_by_channel_with_first_token_time(client: TestClient) -> None:
    before = scrape(client)
    with client.stream(
        "POST", "/api/v1/chat/stream", json={"agent_id": 1, "message": "hola", "session_id": "m-3"}
    ) as r:
        assert r.status_code == 200
        assert '"type":"end"' in "".join(r.iter_text())
    with client.websocket_connect("/api/v1/chat/stream/m-3/1") as ws:
        during = scrape(client)
        ws.send_json({"message": "hola"})
        while ws.receive_json()["type"] != "end":
            pass
    after = scrape(client)
    for _ in range(50):  # the server ends the closed connection's handler a moment after the client left
        if value(after, "centralita_websocket_connections") == value(
            before, "centralita_websocket_connections"
        ):
            break
        time.sleep(0.02)
        after = scrape(client)

    turns = "centralita_chat_turns_total"
    assert delta(before, after, turns, agent="1", channel="sse", outcome="complete", code="") == 1
    assert delta(before, after, turns, agent="1", channel="ws", outcome="complete", code="") == 1
    assert delta(before, after, "centralita_llm_time_to_first_token_seconds_count", provider="fake") == 2
    assert delta(before, during, "centralita_websocket_connections") == 1
    assert value(after, "centralita_websocket_connections") == value(
        before, "centralita_websocket_connections"
    )


def test_rate_limited_requests_and_messages_are_counted_by_channel(model: ScriptedChatModel) -> None:
    settings = Settings(_env_file=None, STORAGE="memory", RATE_LIMIT_SESSION_PER_MINUTE=1)
    container = build_container(settings)
    container.chat_model.override(providers.Object(model))
    with TestClient(create_app(settings, container)) as client:
        before = scrape(client)
        body = {"agent_id": 1, "message": "hola", "session_id": "m-limited"}
        assert client.post("/api/v1/chat", json=body).status_code == 200
        assert client.post("/api/v1/chat", json=body).status_code == 429
        assert client.post("/api/v1/chat/stream", json=body).status_code == 429
        with client.websocket_connect("/api/v1/chat/stream/m-limited/1") as ws:
            ws.send_json({"message": "hola"})
            assert ws.receive_json()["code"] == "rate_limited"
        after = scrape(client)

    limited = "centralita_rate_limited_total"
    assert delta(before, after, limited, channel="rest", code="rate_limited") == 1
    assert delta(before, after, limited, channel="sse", code="rate_limited") == 1
    assert delta(before, after, limited, channel="ws", code="rate_limited") == 1
    count_rate_limited("ws", "some-unbounded-text")
    assert value(scrape_registry(), limited, channel="ws", code="other") >= 1


def scrape_registry() -> dict:
    samples = {}
    for family in REGISTRY.collect():
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return samples


def test_routes_are_labelled_by_template_not_by_raw_path(client: TestClient) -> None:
    client.get("/api/v1/visitors/some-visitor-id")
    samples = scrape(client)
    routes = {
        dict(labels).get("route") for name, labels in samples if name == "centralita_http_requests_total"
    }
    assert "/api/v1/visitors/{session_id}" in routes
    assert not any(route and "some-visitor-id" in route for route in routes)
