"""The embeddable chat widget, driven in headless Chromium against the server under test.

See conftest.py: ``widget_server_url`` is the stub today and the real server later; tests that take
``widget_stub`` need the stub's failure switches and skip against a real server.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Locator, Page, expect

from tests.browser.widget_stub_server import ANSWER, StubServer

pytestmark = pytest.mark.browser

WIDGET = "#centralita-widget"
QUESTION = "¿Cuál es vuestro horario de atención?"

# Records every distinct text of the latest streamed answer bubble, to observe the answer growing.
OBSERVE_JS = """() => {
  const log = document.getElementById('centralita-widget').shadowRoot.querySelector('.cw-log');
  window.__snaps = [];
  new MutationObserver(() => {
    const texts = log.querySelectorAll('.cw-msg--assistant:not(.cw-greeting) .cw-text');
    const t = texts.length ? texts[texts.length - 1].textContent : '';
    if (window.__snaps[window.__snaps.length - 1] !== t) window.__snaps.push(t);
  }).observe(log, {subtree: true, childList: true, characterData: true});
}"""


def stub_in_use() -> bool:
    return not os.environ.get("CENTRALITA_WIDGET_SERVER_URL")


def open_demo(page: Page, base: str, path: str = "/widget/") -> None:
    page.goto(base + path)
    bubble = page.get_by_role("button", name=re.compile("Abrir el chat|Open chat"))
    expect(bubble).to_be_visible()
    bubble.click()
    expect(page.get_by_role("dialog")).to_be_visible()
    expect(page.locator(WIDGET)).to_have_attribute("data-connection", "open")


def answers(page: Page) -> Locator:
    return page.locator(".cw-msg--assistant:not(.cw-greeting)")


def ask(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name=re.compile("Escribe tu mensaje|Type your message"))
    box.fill(text)
    box.press("Enter")


def wait_answered(page: Page, count: int) -> Locator:
    """Waits until the count-th answer is complete; returns it."""
    answer = answers(page).nth(count - 1)
    expect(answer).to_have_attribute("data-status", "complete", timeout=15_000)
    expect(page.locator(WIDGET)).to_have_attribute("data-busy", "false")
    return answer


def assert_clean(page: Page) -> None:
    assert page.evaluate("window.__cspViolations") == [], "the widget must run under the strict demo CSP"
    assert page.page_errors == []  # type: ignore[attr-defined]


def test_demo_page_shows_bubble_and_greeting(page: Page, widget_server_url: str) -> None:
    open_demo(page, widget_server_url)
    dialog = page.get_by_role("dialog", name=re.compile("Aurora"))
    expect(dialog).to_be_visible()
    # Focus moves to the input on open; the greeting shows on an empty conversation.
    expect(page.get_by_role("textbox", name="Escribe tu mensaje")).to_be_focused()
    expect(page.locator(".cw-greeting")).to_have_count(1)
    expect(page.locator(".cw-greeting .cw-text")).not_to_be_empty()
    expect(page.locator(".cw-log")).to_have_attribute("aria-live", "polite")
    sid = page.evaluate("localStorage.getItem('centralita:session:1')")
    assert re.fullmatch(r"[A-Za-z0-9._:-]{1,128}", sid)
    assert page.evaluate("window.Centralita.sessionId") == sid
    # The styles come from a constructable stylesheet, so the strict CSP does not block them.
    position = page.locator(".cw-bubble").evaluate("b => getComputedStyle(b).position")
    assert position == "fixed"
    assert_clean(page)


@pytest.mark.usefixtures("answering_server")
def test_answer_streams_in_pieces_with_sources(page: Page, widget_server_url: str) -> None:
    open_demo(page, widget_server_url)
    page.evaluate(OBSERVE_JS)
    ask(page, QUESTION)
    expect(page.locator(".cw-msg--user .cw-text").last).to_have_text(QUESTION)
    # One turn at a time: sending is disabled while the answer streams.
    expect(page.get_by_role("button", name="Enviar mensaje")).to_be_disabled()
    expect(page.locator(".cw-typing")).to_have_count(1)
    answer = wait_answered(page, 1)
    final = answer.locator(".cw-text").text_content() or ""
    assert final.strip()
    snaps: list[str] = page.evaluate("window.__snaps")
    partial = {s for s in snaps if s and s != final and final.startswith(s)}
    assert len(partial) >= 2, f"expected the answer to grow in pieces, saw {snaps!r}"
    expect(page.locator(".cw-typing")).to_have_count(0)
    expect(page.get_by_role("button", name="Enviar mensaje")).to_be_enabled()
    if stub_in_use():
        assert final == ANSWER
        items = answer.locator(".cw-sources li")
        expect(items).to_have_count(2)
        link = items.nth(0).get_by_role("link", name="Horarios de atención")
        expect(link).to_have_attribute("href", "https://example.com/ayuda/horarios")
        expect(link).to_have_attribute("rel", "noopener noreferrer nofollow")
        # Hostile source: markup shown as text, javascript: URL not turned into a link.
        expect(items.nth(1).locator(".cw-src-t")).to_have_text("<img src=x onerror=alert(1)>Tarifas")
        expect(items.nth(1).locator("a")).to_have_count(0)
        expect(items.nth(1).locator(".cw-src-s")).to_contain_text("<b>not bold</b>")
        expect(page.locator(".cw-sources img, .cw-sources b")).to_have_count(0)
    assert_clean(page)


@pytest.mark.usefixtures("answering_server")
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
    expect(page.locator(".cw-greeting")).to_have_count(0)
    assert page.evaluate("window.Centralita.sessionId") == sid
    if stub_in_use():
        expect(answers(page).locator(".cw-sources li")).to_have_count(2)
    # A fresh tab (closed panel) restores it too when the visitor opens the bubble.
    page.evaluate("sessionStorage.clear()")
    page.reload()
    expect(page.get_by_role("dialog")).to_be_hidden()
    page.get_by_role("button", name="Abrir el chat").click()
    expect(page.locator(".cw-msg--user .cw-text")).to_have_text([QUESTION])
    assert_clean(page)


def test_history_wrapped_in_messages_object(
    page: Page, widget_server_url: str, widget_stub: StubServer
) -> None:
    widget_stub.wrap_history = True
    open_demo(page, widget_server_url)
    ask(page, QUESTION)
    wait_answered(page, 1)
    page.reload()
    expect(page.locator(".cw-msg--user .cw-text")).to_have_text([QUESTION])
    expect(answers(page).locator(".cw-text")).to_have_text([ANSWER])


def test_reconnects_after_server_drop_and_sends_next_message(
    page: Page, widget_server_url: str, widget_stub: StubServer
) -> None:
    open_demo(page, widget_server_url)
    ask(page, "primera pregunta")
    wait_answered(page, 1)
    assert widget_stub.drop_all() == 1
    expect(page.locator(WIDGET)).to_have_attribute("data-connection", "reconnecting")
    expect(page.locator(WIDGET)).to_have_attribute("data-connection", "open", timeout=10_000)
    assert widget_stub.connections_opened == 2
    ask(page, "segunda pregunta")
    wait_answered(page, 2)
    # The answered message is never sent again.
    assert widget_stub.received == ["primera pregunta", "segunda pregunta"]
    expect(answers(page)).to_have_count(2)
    assert_clean(page)


def test_message_sent_once_more_if_socket_drops_before_start(
    page: Page, widget_server_url: str, widget_stub: StubServer
) -> None:
    open_demo(page, widget_server_url)
    widget_stub.drop_before_start_next = True
    ask(page, "¿seguís ahí?")
    wait_answered(page, 1)
    assert widget_stub.received == ["¿seguís ahí?", "¿seguís ahí?"]
    expect(page.locator(".cw-msg--user")).to_have_count(1)
    expect(answers(page)).to_have_count(1)
    expect(answers(page).locator(".cw-text")).to_have_text([ANSWER])


def test_answer_cut_mid_stream_is_marked_and_refreshed(
    page: Page, widget_server_url: str, widget_stub: StubServer
) -> None:
    open_demo(page, widget_server_url)
    reads = widget_stub.history_requests
    widget_stub.drop_mid_answer_next = True
    ask(page, QUESTION)
    answer = answers(page).first
    expect(answer).to_have_attribute("data-status", "interrupted")
    expect(answer.locator(".cw-note")).to_be_visible()
    answer.evaluate("b => b.dataset.streamed = 'yes'")
    # After reconnecting, the conversation is re-read from the history route (which has the stored partial).
    expect(page.locator(WIDGET)).to_have_attribute("data-connection", "open", timeout=10_000)
    expect(page.locator(".cw-msg[data-streamed]")).to_have_count(0)  # replaced by the server's version
    assert widget_stub.history_requests == reads + 1
    stored = widget_stub.history[(page.evaluate("window.Centralita.sessionId"), 1)][-1]
    assert stored["status"] == "interrupted" and stored["content"]
    expect(answers(page).locator(".cw-text")).to_have_text([stored["content"]])
    expect(answer).to_have_attribute("data-status", "interrupted")
    expect(answer).to_have_attribute("data-message-id", stored["id"])
    expect(page.get_by_role("button", name="Enviar mensaje")).to_be_enabled()
    ask(page, "otra vez, por favor")
    wait_answered(page, 2)
    assert widget_stub.received == [QUESTION, "otra vez, por favor"]


def test_rate_limit_error_is_polite_and_send_waits(
    page: Page, widget_server_url: str, widget_stub: StubServer
) -> None:
    widget_stub.retry_after = 2
    open_demo(page, widget_server_url)
    widget_stub.rate_limit_next = 1
    ask(page, "hola")
    notice = page.locator(".cw-notice[data-code=rate_limited]")
    expect(notice).to_have_text(re.compile(r"Espera 2 segundos"))
    # The text comes back to the input so the visitor can retry, once the wait is over.
    box = page.get_by_role("textbox", name="Escribe tu mensaje")
    expect(box).to_have_value("hola")
    send = page.get_by_role("button", name="Enviar mensaje")
    expect(send).to_be_disabled()
    box.press("Enter")  # Enter does nothing while waiting
    time.sleep(0.2)
    assert widget_stub.received == ["hola"]
    expect(send).to_be_enabled(timeout=5_000)
    box.press("Enter")
    wait_answered(page, 1)
    expect(notice).to_have_count(0)
    assert widget_stub.received == ["hola", "hola"]
    assert_clean(page)


def test_english_errors_and_explicit_server(
    page: Page, widget_server_url: str, widget_stub: StubServer
) -> None:
    query = f"agent-id=1&lang=en&title=Help&color=%23a3122e&server={widget_server_url}"
    page.goto(f"{widget_server_url}/widget/test/en.html?{query}")
    page.get_by_role("button", name="Open chat").click()
    expect(page.get_by_role("dialog", name="Help")).to_be_visible()
    expect(page.locator(".cw-greeting .cw-text")).to_have_text("Hi! How can I help you?")
    color = page.locator(".cw-bubble").evaluate("b => getComputedStyle(b).backgroundColor")
    assert color == "rgb(163, 18, 46)"
    widget_stub.rate_limit_next = 1
    widget_stub.retry_after = 30
    ask(page, "hello")
    expect(page.locator(".cw-notice")).to_have_text(re.compile(r"Please wait 30 seconds"))
    assert_clean(page)


def test_unknown_agent_is_reported_without_reconnect_storm(
    page: Page, widget_server_url: str, widget_stub: StubServer
) -> None:
    page.goto(f"{widget_server_url}/widget/test/unknown.html?agent-id=999")
    page.get_by_role("button", name="Abrir el chat").click()
    expect(page.locator(".cw-notice[data-code=agent_not_found]").first).to_have_text(
        "Este chat no está disponible en este momento."
    )
    expect(page.locator(WIDGET)).to_have_attribute("data-connection", "closed")
    expect(page.get_by_role("button", name="Enviar mensaje")).to_be_disabled()


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
    outline = page.locator(".cw-bubble").evaluate("b => getComputedStyle(b).outlineStyle")
    assert outline == "solid"
    page.keyboard.press("Enter")
    expect(box).to_be_focused()
    expect(box).to_have_value("línea uno\nlínea dos")
    expect(page.get_by_role("button", name="Cerrar el chat").first).to_be_visible()


SHOT_SCRIPT = [
    (
        [
            "Atendemos ",
            "por teléfono ",
            "de lunes a viernes, ",
            "de 9:00 a 20:00. ",
            "Las averías ",
            "se atienden ",
            "todos los días, ",
            "a cualquier hora.",
        ],
        [
            {
                "document_id": "d1",
                "title": "Horarios de atención",
                "score": 0.91,
                "snippet": "Teléfono 900 000 000, de lunes a viernes de 9:00 a 20:00.",
                "source": "https://example.com/ayuda/horarios",
            },
            {
                "document_id": "d2",
                "title": "Guía de averías",
                "score": 0.74,
                "snippet": "Las averías se atienden 24 horas en el 900 000 111.",
            },
        ],
    ),
    (
        [
            "Sí. ",
            "Puedes cambiarte ",
            "desde tu área de cliente ",
            "o pedírmelo aquí; ",
            "el cambio ",
            "se aplica en la siguiente factura ",
            "y no tiene coste.",
        ],
        [
            {
                "document_id": "d3",
                "title": "Tarifas 2026",
                "score": 0.88,
                "snippet": "Tarifa Noche: 0,098 €/kWh de 22:00 a 08:00 y fines de semana.",
            }
        ],
    ),
]


@pytest.mark.usefixtures("answering_server")
def test_screenshots(
    page: Page, widget_server_url: str, screenshot_dir: Path, request: pytest.FixtureRequest
) -> None:
    if stub_in_use():
        request.getfixturevalue("widget_stub").scripted.extend(SHOT_SCRIPT)
    open_demo(page, widget_server_url)
    ask(page, "¿Cuál es vuestro horario?")
    wait_answered(page, 1)
    ask(page, "¿Puedo cambiarme a la Tarifa Noche?")
    wait_answered(page, 2)
    page.locator(".cw-input").blur()
    page.screenshot(path=str(screenshot_dir / "widget.png"), animations="disabled")

    page.set_viewport_size({"width": 360, "height": 740})
    page.reload()
    expect(answers(page)).to_have_count(2)
    panel = page.get_by_role("dialog")
    box = panel.bounding_box()
    assert box is not None and box["width"] == 360, "the panel is full-width on a phone"
    assert page.evaluate("document.documentElement.scrollWidth") <= 360, "no horizontal scrolling"
    page.locator(".cw-log").evaluate("l => l.scrollTop = l.scrollHeight")
    page.screenshot(path=str(screenshot_dir / "widget-mobile.png"), animations="disabled")
    assert_clean(page)


def test_too_long_message_is_refused_before_sending(
    page: Page, widget_server_url: str, widget_stub: StubServer
) -> None:
    page.goto(f"{widget_server_url}/widget/test/short.html?agent-id=1&max-chars=20")
    page.get_by_role("button", name="Abrir el chat").click()
    expect(page.locator(WIDGET)).to_have_attribute("data-connection", "open")
    ask(page, "x" * 21)
    expect(page.locator(".cw-notice[data-code=message_too_long]")).to_contain_text("máximo 20 caracteres")
    expect(page.get_by_role("textbox", name="Escribe tu mensaje")).to_have_value("x" * 21)
    expect(page.locator(".cw-msg--user")).to_have_count(0)
    assert widget_stub.received == []


def test_reduced_motion_stops_animations(browser: Browser, widget_server_url: str) -> None:
    ctx = browser.new_context(reduced_motion="reduce")
    try:
        page = ctx.new_page()
        page.goto(widget_server_url + "/widget/")
        page.get_by_role("button", name="Abrir el chat").click()
        names = page.locator(".cw-panel").evaluate("p => getComputedStyle(p).animationName")
        assert names == "none"
    finally:
        ctx.close()
