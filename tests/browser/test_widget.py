"""The embeddable chat widget in headless Chromium against the real `centralita serve`.

One server per module (conftest `centralita`): STORAGE=memory, a fake Groq streaming 40-token answers at
~60 tokens/s, three knowledge documents for agent 1, and a TCP proxy between the browser and the server
that the tests sever to cut the WebSocket from the server's side.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser.servers import HostPages, RealServer
from tests.browser.widget_page import (
    OBSERVE_JS,
    QUESTION,
    WIDGET,
    answers,
    ask,
    assert_clean,
    open_demo,
    wait_answered,
)
from tests.fakes.fake_llm import FakeLLMServer

pytestmark = pytest.mark.browser

AGENT_1_GREETING = "¡Hola! Soy el asistente virtual. ¿En qué puedo ayudarte?"


def user_texts(history: list[dict[str, object]]) -> list[object]:
    return [m["content"] for m in history if m["role"] == "user"]


def test_demo_page_greets_with_the_agents_greeting(page: Page, widget_server_url: str) -> None:
    open_demo(page, widget_server_url)
    expect(page.get_by_role("dialog", name=re.compile("Aurora"))).to_be_visible()
    # Focus moves to the input on open; the agent's greeting (public agent route) shows on an empty conversation.
    expect(page.get_by_role("textbox", name="Escribe tu mensaje")).to_be_focused()
    expect(page.locator(".cw-greeting .cw-text")).to_have_text(AGENT_1_GREETING)
    expect(page.locator(".cw-log")).to_have_attribute("aria-live", "polite")
    sid = page.evaluate("localStorage.getItem('centralita:session:1')")
    assert re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", sid)
    assert page.evaluate("window.Centralita.sessionId") == sid
    # The styles come from a constructable stylesheet, so the page's strict CSP (sent by the server) allows them.
    assert page.locator(".cw-bubble").evaluate("b => getComputedStyle(b).position") == "fixed"
    assert_clean(page)


def test_answer_streams_in_pieces_with_sources(
    page: Page, widget_server_url: str, centralita: RealServer
) -> None:
    open_demo(page, widget_server_url)
    page.evaluate(OBSERVE_JS)
    ask(page, QUESTION)
    expect(page.locator(".cw-msg--user .cw-text").last).to_have_text(QUESTION)
    # One turn at a time: sending is disabled while the answer streams; a typing indicator until the first token.
    expect(page.get_by_role("button", name="Enviar mensaje")).to_be_disabled()
    expect(page.locator(".cw-typing")).to_have_count(1)
    answer = wait_answered(page, 1)
    final = answer.locator(".cw-text").text_content() or ""
    assert final.startswith("Echo: " + QUESTION)
    snaps: list[str] = page.evaluate("window.__snaps")
    partial = {s for s in snaps if s and s != final and final.startswith(s)}
    assert len(partial) >= 2, f"expected the answer to grow in pieces, saw {snaps!r}"
    expect(page.locator(".cw-typing")).to_have_count(0)
    expect(page.get_by_role("button", name="Enviar mensaje")).to_be_enabled()
    # The knowledge retrieved for the question is listed under the answer.
    expect(answer.locator(".cw-sources")).to_be_visible()
    expect(answer.locator(".cw-src-t").first).to_have_text("Horarios de atención")
    # What the browser shows is what the server stored.
    stored = centralita.history(page.evaluate("window.Centralita.sessionId"))
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert stored[1]["content"] == final and stored[1]["status"] == "complete"
    expect(answer).to_have_attribute("data-message-id", str(stored[1]["id"]))
    assert_clean(page)


def test_conversation_is_restored_after_reload(page: Page, widget_server_url: str) -> None:
    open_demo(page, widget_server_url)
    ask(page, QUESTION)
    first = wait_answered(page, 1).locator(".cw-text").text_content()
    sid = page.evaluate("window.Centralita.sessionId")
    page.reload()
    # The panel stays open across navigations within the tab; it restores the history from the server.
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.locator(".cw-msg--user .cw-text")).to_have_text([QUESTION])
    expect(answers(page).locator(".cw-text")).to_have_text([first or ""])
    expect(answers(page).locator(".cw-src-t").first).to_have_text("Horarios de atención")
    expect(page.locator(".cw-greeting")).to_have_count(0)
    assert page.evaluate("window.Centralita.sessionId") == sid
    # A fresh tab (closed panel) restores it too when the visitor opens the bubble.
    page.evaluate("sessionStorage.clear()")
    page.reload()
    expect(page.get_by_role("dialog")).to_be_hidden()
    page.get_by_role("button", name="Abrir el chat").click()
    expect(page.locator(".cw-msg--user .cw-text")).to_have_text([QUESTION])
    assert_clean(page)


def test_reconnects_after_the_socket_is_cut_without_duplicating_or_losing(
    page: Page, widget_server_url: str, centralita: RealServer, fake_llm: FakeLLMServer
) -> None:
    open_demo(page, widget_server_url)
    ask(page, "primera pregunta")
    wait_answered(page, 1)
    accepted = centralita.proxy.accepted
    assert centralita.proxy.sever() >= 1  # the WebSocket (and any keep-alive HTTP) ends under the browser
    expect(page.locator(WIDGET)).to_have_attribute("data-connection", "reconnecting")
    expect(page.locator(WIDGET)).to_have_attribute("data-connection", "open", timeout=10_000)
    assert centralita.proxy.accepted > accepted
    ask(page, "segunda pregunta")
    wait_answered(page, 2)
    expect(page.locator(".cw-msg--user")).to_have_count(2)
    expect(answers(page)).to_have_count(2)
    # The server holds each message exactly once, and each reached the model once.
    stored = centralita.history(page.evaluate("window.Centralita.sessionId"))
    assert user_texts(stored) == ["primera pregunta", "segunda pregunta"]
    assert [m["status"] for m in stored if m["role"] == "assistant"] == ["complete", "complete"]
    asked = [r["messages"][-1]["content"] for r in fake_llm.requests]
    assert asked.count("primera pregunta") == 1 and asked.count("segunda pregunta") == 1
    assert_clean(page)


def test_answer_cut_mid_stream_goes_on_and_is_shown_whole_once(
    page: Page, widget_server_url: str, centralita: RealServer, fake_llm: FakeLLMServer
) -> None:
    """Issue 13: the answer does not depend on the socket; after the reconnect the resume brings the rest."""
    if not centralita.speaks_event_ids():
        pytest.skip("the server has no live conversations yet (no X-Last-Event-Id on the history route)")
    fake_llm.configure(tokens_per_second=15)  # ~2.7 s per answer: time to cut it half-way
    fake_llm.clear_requests()  # count only what this test asks
    try:
        open_demo(page, widget_server_url)
        page.evaluate(OBSERVE_JS)
        ask(page, QUESTION)
        answer = answers(page).first
        expect(answer.locator(".cw-text")).to_have_text(re.compile(r"^Echo: \S+ \S+"))
        assert centralita.proxy.sever() >= 1
        answer = wait_answered(page, 1)
    finally:
        fake_llm.configure(tokens_per_second=60)
    final = answer.locator(".cw-text").text_content() or ""
    stored = centralita.history(page.evaluate("window.Centralita.sessionId"))
    assert [m["role"] for m in stored] == ["user", "assistant"]
    assert stored[-1]["status"] == "complete" and stored[-1]["content"] == final
    snaps: list[str] = page.evaluate("window.__snaps")
    assert all(final.startswith(s) for s in snaps), f"a piece shown twice or lost: {snaps!r}"
    expect(answer).to_have_attribute("data-message-id", str(stored[-1]["id"]))
    expect(page.locator(".cw-msg--user")).to_have_count(1)
    asked = [r["messages"][-1]["content"] for r in fake_llm.requests]
    assert asked.count(QUESTION) == 1  # the reconnect did not ask again
    assert_clean(page)


def test_answer_cut_mid_stream_is_marked_and_refreshed_from_the_server(
    page: Page, widget_server_url: str, centralita: RealServer, fake_llm: FakeLLMServer
) -> None:
    """Before issue 13 (a server without event ids): the cut ends the answer; the widget re-reads it."""
    if centralita.speaks_event_ids():
        pytest.skip("the server keeps answering after a cut (test_answer_cut_mid_stream_goes_on_...)")
    fake_llm.configure(tokens_per_second=15)  # ~2.7 s per answer: time to cut it half-way
    fake_llm.clear_requests()  # count only what this test asks
    try:
        open_demo(page, widget_server_url)
        ask(page, QUESTION)
        answer = answers(page).first
        expect(answer.locator(".cw-text")).to_have_text(re.compile(r"^Echo: \S+ \S+"))
        centralita.proxy.sever()
        expect(answer).to_have_attribute("data-status", "interrupted")
        expect(answer.locator(".cw-note")).to_be_visible()
        answer.evaluate("b => b.dataset.streamed = 'yes'")
        # Once reconnected, the conversation is re-read from the history route: the server kept the partial.
        expect(page.locator(WIDGET)).to_have_attribute("data-connection", "open", timeout=10_000)
        expect(page.locator(".cw-msg[data-streamed]")).to_have_count(0)  # replaced by the server's version
        stored = centralita.history(page.evaluate("window.Centralita.sessionId"))
        assert stored[-1]["status"] == "interrupted" and stored[-1]["content"]
        expect(answers(page).locator(".cw-text")).to_have_text([str(stored[-1]["content"])])
        expect(answers(page).first).to_have_attribute("data-status", "interrupted")
        expect(answers(page).first).to_have_attribute("data-message-id", str(stored[-1]["id"]))
    finally:
        fake_llm.configure(tokens_per_second=60)
    ask(page, "otra vez, por favor")
    wait_answered(page, 2)
    stored = centralita.history(page.evaluate("window.Centralita.sessionId"))
    assert user_texts(stored) == [QUESTION, "otra vez, por favor"]


def test_the_agents_language_picks_the_widgets_texts(
    page: Page, widget_server_url: str, centralita: RealServer, host_pages: HostPages
) -> None:
    """On a company's own site (another origin, its CSP allowing only the Centralita server)."""
    agent = centralita.create_agent(
        name="Billing help",
        system_prompt="You answer billing questions. SECRET-PROMPT",
        language="en",
        greeting="Hi! Ask me anything about your bill.",
    )
    page.goto(host_pages.page("en.html", widget_server_url, agent_id=str(agent)))
    page.get_by_role("button", name="Open chat").click()
    # No data-title: the agent's public name; no data-lang: the agent's language; its greeting.
    expect(page.get_by_role("dialog", name="Billing help")).to_be_visible()
    expect(page.locator(".cw-greeting .cw-text")).to_have_text("Hi! Ask me anything about your bill.")
    expect(page.get_by_role("textbox", name="Type your message")).to_be_focused()
    expect(page.locator(WIDGET)).to_have_attribute("data-connection", "open")
    assert "SECRET-PROMPT" not in page.content()
    assert_clean(page)


def test_unknown_agent_is_reported_without_reconnect_storm(
    page: Page, widget_server_url: str, centralita: RealServer, host_pages: HostPages
) -> None:
    page.goto(host_pages.page("unknown.html", widget_server_url, agent_id="999", lang="es"))
    accepted = centralita.proxy.accepted
    page.get_by_role("button", name="Abrir el chat").click()
    expect(page.locator(".cw-notice[data-code=agent_not_found]").first).to_have_text(
        "Este chat no está disponible en este momento."
    )
    expect(page.get_by_role("button", name="Enviar mensaje")).to_be_disabled()
    page.wait_for_timeout(1500)
    assert (
        centralita.proxy.accepted - accepted <= 3
    )  # agent + history (+ one socket closed with 1008), no retries
    assert_clean(page)


def test_keyboard_escape_and_shift_enter(page: Page, widget_server_url: str) -> None:
    page.goto(widget_server_url + "/widget/")
    bubble = page.get_by_role("button", name="Abrir el chat")
    bubble.focus()
    page.keyboard.press("Enter")
    box = page.get_by_role("textbox", name="Escribe tu mensaje")
    expect(box).to_be_focused()
    expect(page.locator(".cw-bubble")).to_have_attribute("aria-expanded", "true")
    box.type("línea uno")
    box.press("Shift+Enter")
    box.type("línea dos")
    expect(box).to_have_value("línea uno\nlínea dos")
    expect(page.locator(".cw-msg--user")).to_have_count(0)
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_be_hidden()
    expect(page.locator(".cw-bubble")).to_be_focused()
    expect(page.locator(".cw-bubble")).to_have_attribute("aria-expanded", "false")
    # Focus styles are visible on keyboard focus.
    assert page.locator(".cw-bubble").evaluate("b => getComputedStyle(b).outlineStyle") == "solid"
    page.keyboard.press("Enter")
    expect(box).to_be_focused()
    expect(box).to_have_value("línea uno\nlínea dos")
    expect(page.get_by_role("button", name="Cerrar el chat").first).to_be_visible()


def test_reduced_motion_stops_animations(browser: Browser, widget_server_url: str) -> None:
    ctx = browser.new_context(reduced_motion="reduce")
    try:
        page = ctx.new_page()
        page.goto(widget_server_url + "/widget/")
        page.get_by_role("button", name="Abrir el chat").click()
        assert page.locator(".cw-panel").evaluate("p => getComputedStyle(p).animationName") == "none"
    finally:
        ctx.close()


SHOT_ANSWERS = [
    "Atendemos por teléfono en el 900 000 000, de lunes a viernes de 9:00 a 20:00, y por este chat "
    "las 24 horas. Las averías se atienden todos los días, a cualquier hora, en el 900 000 111.",
    "Sí. Puedes pedir el cambio a la Tarifa Noche desde tu área de cliente o aquí mismo: no tiene coste "
    "y se aplica en la siguiente factura. Es más barata de 22:00 a 08:00 y los fines de semana.",
]


def test_screenshots(
    page: Page, widget_server_url: str, fake_llm: FakeLLMServer, screenshot_dir: Path
) -> None:
    """docs/img/widget.png and widget-mobile.png, from the real server with its sources."""
    try:
        open_demo(page, widget_server_url)
        fake_llm.configure(answer=SHOT_ANSWERS[0])
        ask(page, "¿Cuál es vuestro horario de atención?")
        first = wait_answered(page, 1)
        fake_llm.configure(answer=SHOT_ANSWERS[1])
        ask(page, "¿Puedo cambiarme a la Tarifa Noche?")
        second = wait_answered(page, 2)
    finally:
        fake_llm.configure(answer=None)
    expect(first.locator(".cw-sources li").first).to_be_visible()
    expect(second.locator(".cw-sources li").first).to_be_visible()
    page.locator(".cw-input").blur()
    page.screenshot(path=str(screenshot_dir / "widget.png"), animations="disabled")

    page.set_viewport_size({"width": 360, "height": 740})
    page.reload()
    expect(answers(page)).to_have_count(2)
    box = page.get_by_role("dialog").bounding_box()
    assert box is not None and box["width"] == 360, "the panel is full-width on a phone"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, "no horizontal scrolling"
    page.locator(".cw-log").evaluate("l => l.scrollTop = l.scrollHeight")
    page.screenshot(path=str(screenshot_dir / "widget-mobile.png"), animations="disabled")
    assert_clean(page)
