"""The widget against the real server on its default store (the embedded MongoDB), with tight rate limits.

The server process is restarted under the page (the proxy keeps the address): the widget reconnects, the
conversation survives in MongoDB, and a visitor's third message within a minute is refused politely.
"""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.servers import RealServer
from tests.browser.widget_page import WIDGET, answers, ask, assert_clean, open_demo, wait_answered

pytestmark = pytest.mark.browser

SERVER_ENV = {"STORAGE": "mongodb", "RATE_LIMIT_SESSION_PER_MINUTE": "2", "SHUTDOWN_GRACE_SECONDS": "0"}


def test_server_restart_reconnects_and_keeps_the_conversation(
    page: Page, widget_server_url: str, centralita: RealServer
) -> None:
    open_demo(page, widget_server_url)
    ask(page, "antes del reinicio")
    wait_answered(page, 1)
    centralita.restart()  # a new process (and port) behind the same address; MongoDB keeps the data
    expect(page.locator(WIDGET)).to_have_attribute("data-connection", "open", timeout=20_000)
    ask(page, "después del reinicio")
    wait_answered(page, 2)
    sid = page.evaluate("window.Centralita.sessionId")
    stored = centralita.history(sid)
    assert [m["content"] for m in stored if m["role"] == "user"] == [
        "antes del reinicio",
        "después del reinicio",
    ]
    page.reload()
    expect(page.locator(".cw-msg--user .cw-text")).to_have_text(
        ["antes del reinicio", "después del reinicio"]
    )
    expect(answers(page)).to_have_count(2)
    assert_clean(page)


def test_rate_limit_is_shown_politely(page: Page, widget_server_url: str) -> None:
    open_demo(page, widget_server_url)  # a new browser context: a new visitor session
    ask(page, "uno")
    wait_answered(page, 1)
    ask(page, "dos")
    wait_answered(page, 2)
    ask(page, "tres")  # the third chat turn of this session within a minute
    notice = page.locator(".cw-notice[data-code=rate_limited]")
    expect(notice).to_have_text(re.compile(r"^Has enviado muchos mensajes seguidos\. Espera \d+ segundos"))
    expect(page.get_by_role("textbox", name="Escribe tu mensaje")).to_have_value("tres")  # back, to retry
    expect(page.get_by_role("button", name="Enviar mensaje")).to_be_disabled()
    expect(page.locator(".cw-msg--user")).to_have_count(2)
    assert_clean(page)
