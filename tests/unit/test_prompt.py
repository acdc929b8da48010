from __future__ import annotations

from application.prompt import PromptBudget, build_prompt, estimate_tokens, fit_history
from domain.conversations import Message, MessageStatus, Role


def msg(role: Role, text: str, status: MessageStatus = MessageStatus.COMPLETE) -> Message:
    return Message("id-" + text[:8], "c", role, text, status=status)


def test_history_keeps_the_newest_messages_that_fit() -> None:
    history = [msg(Role.USER, "a" * 40), msg(Role.ASSISTANT, "b" * 40), msg(Role.USER, "c" * 40)]
    kept = fit_history(history, token_budget=2 * estimate_tokens("x" * 40))
    assert [m.content[0] for m in kept] == ["b", "c"]


def test_history_skips_empty_replies_and_system_messages() -> None:
    history = [
        msg(Role.SYSTEM, "secret"),
        msg(Role.USER, "hola"),
        msg(Role.ASSISTANT, "", MessageStatus.FAILED),
    ]
    assert [m.content for m in fit_history(history, 1000)] == ["hola"]


def test_a_zero_budget_sends_no_history() -> None:
    prompt = build_prompt(
        "Eres útil.", [], [msg(Role.USER, "antes")], "ahora", PromptBudget(history_tokens=0)
    )
    assert [m.content for m in prompt[1:]] == ["ahora"]
    assert prompt[0].role is Role.SYSTEM and prompt[0].content.startswith("Eres útil.")
    assert "<<<CONTEXT>>>\n" not in prompt[0].content  # no context block without chunks
