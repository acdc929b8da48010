"""Driving the widget on a page: shared by the browser test modules."""

from __future__ import annotations

import re

from playwright.sync_api import Locator, Page, expect

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
