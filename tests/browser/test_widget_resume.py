"""Live conversations in the widget (issue 13): resume after a reconnect, a second tab, resume_gap.

Against the stand-in server (tests/browser/widget_stub_server.py), which speaks the protocol of PRODUCT.md
"Live conversations" and can drop a socket at an exact event while the answer goes on in its event log.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import BrowserContext, Page, WebSocket, expect

from tests.browser.widget_page import QUESTION, WIDGET, answers, ask, assert_clean, open_demo, wait_answered
from tests.browser.widget_stub_server import ANSWER, ANSWER_TOKENS, StubServer

pytestmark = pytest.mark.browser

# Every distinct text of the newest answer bubble and every status it had, to catch a text shown twice
# or an answer marked interrupted on the way.
WATCH_JS = """() => {
  const host = document.getElementById('centralita-widget'), log = host.shadowRoot.querySelector('.cw-log');
  window.__texts = []; window.__statuses = []; window.__conn = [];
  new MutationObserver(() => {
    const c = host.getAttribute('data-connection');
    if (window.__conn[window.__conn.length - 1] !== c) window.__conn.push(c);
  })
    .observe(host, {attributes: true, attributeFilter: ['data-connection']});
  new MutationObserver(() => {
    const all = log.querySelectorAll('.cw-msg--assistant:not(.cw-greeting)');
    const b = all[all.length - 1];
    if (!b) return;
    const t = b.querySelector('.cw-text').textContent, s = b.getAttribute('data-status') || '';
    if (window.__texts[window.__texts.length - 1] !== t) window.__texts.push(t);
    if (window.__statuses[window.__statuses.length - 1] !== s) window.__statuses.push(s);
  }).observe(log, {subtree: true, childList: true, characterData: true, attributes: true});
}"""


@pytest.fixture(autouse=True)
def _websocket_log(page: Page) -> Iterator[None]:
    """Every frame the page's sockets sent and received, printed (shown by pytest when a test fails)."""
    frames: list[str] = []

    def follow(ws: WebSocket) -> None:
        frames.append(f"OPEN {ws.url}")
        ws.on("framesent", lambda p: frames.append(f"> {p!s}"))
        ws.on("framereceived", lambda p: frames.append(f"< {p!s}"))
        ws.on("close", lambda _: frames.append("CLOSE"))

    page.on("websocket", follow)
    yield
    print("\n".join(frames))


def sid_of(page: Page) -> str:
    return str(page.evaluate("window.Centralita.sessionId"))


def assert_grew_without_repeats(page: Page, final: str) -> None:
    texts: list[str] = page.evaluate("window.__texts")
    assert texts and texts[-1] == final
    assert all(final.startswith(t) for t in texts), f"a piece was shown twice or out of order: {texts!r}"
    statuses: list[str] = page.evaluate("window.__statuses")
    assert "interrupted" not in statuses and "failed" not in statuses, statuses


def test_cut_mid_answer_resumes_and_shows_the_whole_answer_once(
    page: Page, stub_url: str, widget_stub: StubServer
) -> None:
    open_demo(page, stub_url)
    page.evaluate(WATCH_JS)
    widget_stub.drop_mid_answer_next = True  # the socket goes at the fifth token; the answer goes on
    widget_stub.replay_overlap = 3  # and the resume sends three events the widget showed already
    ask(page, QUESTION)
    answer = answers(page).first
    wait_answered(page, 1)
    assert page.evaluate("window.__conn") == ["reconnecting", "open"]  # the cut, then the resumed socket
    expect(answer.locator(".cw-text")).to_have_text(ANSWER)
    assert_grew_without_repeats(page, ANSWER)
    expect(answer.locator(".cw-src-t").first).to_have_text("Horarios de atención")
    expect(page.locator(".cw-msg--user")).to_have_count(1)
    expect(answers(page)).to_have_count(1)
    # Sent once; the first socket sent no resume (the history was just read: a resume would cost one of the
    # session's rate-limited frames), the second resumed after the last event the first one showed (start and
    # sources at least), before the answer's end.
    assert widget_stub.received == [QUESTION]
    assert widget_stub.connections_opened == 2
    [again] = widget_stub.resumes
    assert 3 <= again < widget_stub.last_event_id(sid_of(page)) - 1
    assert page.evaluate("window.Centralita.lastEventId") == widget_stub.last_event_id(sid_of(page))
    # The next turn on the new socket works, and the history holds each message once.
    ask(page, "gracias")
    wait_answered(page, 2)
    page.reload()
    expect(page.locator(".cw-msg--user .cw-text")).to_have_text([QUESTION, "gracias"])
    expect(answers(page).locator(".cw-text")).to_have_text([ANSWER, ANSWER])
    assert_clean(page)


def test_a_refused_resume_catches_up_from_the_history_on_the_same_socket(
    page: Page, stub_url: str, widget_stub: StubServer
) -> None:
    open_demo(page, stub_url)
    widget_stub.drop_after_visitor_message_next = True  # stored; the widget has no word of it yet
    widget_stub.rate_limit_resume_next = 1  # the session's frames are spent: the resume is refused
    ask(page, QUESTION)
    expect(page.locator(".cw-notice[data-code=rate_limited]")).to_have_text(
        re.compile(r"^Has enviado muchos mensajes seguidos\. Espera 2 segundos")
    )
    answer = wait_answered(page, 1)  # from the history (so far), then the live events after the 2 s grace
    expect(answer.locator(".cw-text")).to_have_text(ANSWER)
    expect(page.locator(".cw-msg--user")).to_have_count(1)
    expect(answers(page)).to_have_count(1)
    assert widget_stub.received == [QUESTION]  # the history showed it arrived: not sent again
    assert len(widget_stub.resumes) == 1 and widget_stub.connections_opened == 2  # no reconnect loop
    send = page.get_by_role("button", name="Enviar mensaje")
    expect(send).to_be_enabled(timeout=5_000)  # once retry_after has passed
    ask(page, "gracias")
    wait_answered(page, 2)
    expect(answers(page).locator(".cw-text")).to_have_text([ANSWER, ANSWER])
    assert_clean(page)


def test_drop_after_the_message_was_stored_does_not_send_it_again(
    page: Page, stub_url: str, widget_stub: StubServer
) -> None:
    open_demo(page, stub_url)
    widget_stub.drop_after_visitor_message_next = True
    ask(page, "¿seguís ahí?")
    wait_answered(page, 1)
    # The replay after the resume showed the stored message: it is adopted, not resent nor shown twice.
    assert widget_stub.received == ["¿seguís ahí?"]
    expect(page.locator(".cw-msg--user")).to_have_count(1)
    stored = widget_stub.history[(sid_of(page), 1)]
    expect(page.locator(".cw-msg--user").first).to_have_attribute("data-message-id", str(stored[0]["id"]))
    expect(answers(page).locator(".cw-text")).to_have_text([ANSWER])


def test_a_message_sent_from_a_second_tab_appears_live_in_the_first(
    page: Page, context: BrowserContext, stub_url: str, widget_stub: StubServer
) -> None:
    open_demo(page, stub_url)
    following = time.monotonic() + 2.2  # a tab that sends no frame follows the conversation after 2 s
    page.evaluate(WATCH_JS)
    second = context.new_page()  # same localStorage: the same visitor, the same conversation
    second.page_errors = []  # type: ignore[attr-defined]
    second.on("pageerror", lambda exc: second.page_errors.append(str(exc)))  # type: ignore[attr-defined]
    try:
        open_demo(second, stub_url)
        assert sid_of(second) == sid_of(page)
        time.sleep(max(0.0, following - time.monotonic()))
        ask(second, QUESTION)
        page.bring_to_front()  # a background tab gets no animation frames: its DOM would grow in one go
        # The first tab shows the visitor's message and the answer streaming in, and waits its end to send.
        expect(page.locator(".cw-msg--user .cw-text")).to_have_text([QUESTION])
        expect(page.get_by_role("button", name="Enviar mensaje")).to_be_disabled()
        expect(page.locator(".cw-log")).to_have_attribute("aria-busy", "true")
        wait_answered(page, 1)
        wait_answered(second, 1)
        for tab in (page, second):
            expect(tab.locator(".cw-msg--user")).to_have_count(1)
            expect(answers(tab).locator(".cw-text")).to_have_text([ANSWER])
            expect(answers(tab).first.locator(".cw-src-t").first).to_have_text("Horarios de atención")
        assert_grew_without_repeats(page, ANSWER)
        texts: list[str] = page.evaluate("window.__texts")
        assert len([t for t in texts if t and t != ANSWER]) >= 2, f"not streamed live: {texts!r}"
        # And the other way round: the first tab asks, the second one follows.
        ask(page, "¿y los sábados?")
        expect(second.locator(".cw-msg--user .cw-text")).to_have_text([QUESTION, "¿y los sábados?"])
        wait_answered(second, 2)
        wait_answered(page, 2)
        for tab in (page, second):
            expect(tab.locator(".cw-msg--user")).to_have_count(2)
            expect(answers(tab)).to_have_count(2)
        assert widget_stub.received == [QUESTION, "¿y los sábados?"]
        assert_clean(page)
        assert second.page_errors == []  # type: ignore[attr-defined]
    finally:
        second.close()


def test_resume_gap_reloads_the_history_then_follows_live(
    page: Page, stub_url: str, widget_stub: StubServer
) -> None:
    open_demo(page, stub_url)
    ask(page, QUESTION)
    wait_answered(page, 1)
    sid = sid_of(page)
    seen = page.evaluate("window.Centralita.lastEventId")
    assert seen == widget_stub.last_event_id(sid)
    loads = widget_stub.history_requests
    # The widget falls behind (nothing reaches it) while its next turn runs, and the server then forgets those
    # events: the drop leaves the turn unanswered for the widget, and its resume after `seen` is a gap.
    widget_stub.deliver = False
    widget_stub.scripted.append((["Sí, ", "los sábados ", "de 10:00 a 14:00."], []))
    ask(page, "¿abrís los sábados?")
    deadline = time.monotonic() + 10
    while widget_stub.last_event_id(sid) < seen + 4 and time.monotonic() < deadline:
        time.sleep(0.02)  # visitor_message, start, sources, tokens…, end: the turn ran on the server
    time.sleep(0.3)
    newest = widget_stub.prune(sid, 1)
    assert newest > seen
    assert widget_stub.history[(sid, 1)][-1]["role"] == "assistant"
    opened = widget_stub.connections_opened
    widget_stub.drop_all()
    deadline = time.monotonic() + 10
    while widget_stub.connections_opened == opened and time.monotonic() < deadline:
        time.sleep(0.02)  # the widget reconnected: the old socket is gone
    widget_stub.deliver = True
    expect(page.locator(".cw-msg--user .cw-text")).to_have_text(
        [QUESTION, "¿abrís los sábados?"], timeout=10_000
    )
    expect(answers(page).locator(".cw-text")).to_have_text([ANSWER, "Sí, los sábados de 10:00 a 14:00."])
    expect(page.locator(WIDGET)).to_have_attribute("data-connection", "open")
    assert widget_stub.history_requests == loads + 1
    # The gap; then nothing was live any more (the history holds the whole turn): no second resume.
    assert widget_stub.resumes[-1:] == [seen]
    assert widget_stub.received == [QUESTION, "¿abrís los sábados?"]  # adopted from the history, not resent
    expect(page.locator(".cw-notice")).to_have_count(0)
    # Live again: the next turn streams in once.
    ask(page, "gracias")
    wait_answered(page, 3)
    expect(page.locator(".cw-msg--user")).to_have_count(3)
    expect(answers(page).nth(2).locator(".cw-text")).to_have_text(ANSWER)
    assert_clean(page)


def test_an_older_server_without_event_ids_still_gets_the_cut_answer_from_history(
    page: Page, stub_url: str, widget_stub: StubServer
) -> None:
    widget_stub.event_ids = False  # no event_id, no visitor_message, no X-Last-Event-Id: no resume
    open_demo(page, stub_url)
    widget_stub.drop_mid_answer_next = True
    ask(page, QUESTION)
    answer = answers(page).first
    expect(answer).to_have_attribute("data-status", "interrupted")
    expect(page.locator(WIDGET)).to_have_attribute("data-connection", "open", timeout=10_000)
    partial = "".join(ANSWER_TOKENS[:4])
    expect(answers(page).locator(".cw-text")).to_have_text([partial])
    expect(answers(page).first).to_have_attribute("data-status", "interrupted")
    assert widget_stub.resumes == []
    assert page.evaluate("window.Centralita.lastEventId") is None
    ask(page, "otra vez")
    wait_answered(page, 2)
    assert widget_stub.received == [QUESTION, "otra vez"]
    assert_clean(page)
