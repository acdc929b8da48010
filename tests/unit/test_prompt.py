from __future__ import annotations

from application.ports.chat_model import PromptMessage
from application.prompt import PromptBudget, build_prompt, estimate_tokens, fit_history
from domain.conversations import Message, MessageStatus, Role


def msg(role: Role, text: str, status: MessageStatus = MessageStatus.COMPLETE) -> Message:
    return Message("id-" + text[:8], "c", role, text, status=status)


def test_history_keeps_the_newest_messages_that_fit() -> None:
    history = [msg(Role.USER, "a" * 40), msg(Role.ASSISTANT, "b" * 40)]
    history += [msg(Role.USER, "c" * 40), msg(Role.ASSISTANT, "d" * 40)]
    kept = fit_history(history, token_budget=2 * estimate_tokens("x" * 40))
    assert [m.content[0] for m in kept] == ["c", "d"]


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


def roles(prompt: tuple[PromptMessage, ...]) -> list[Role]:
    return [m.role for m in prompt]


def alternates(prompt: tuple[PromptMessage, ...]) -> bool:
    """System first, then user/assistant in turn starting with the user, ending with the user."""
    turns = roles(prompt)[1:]
    expected = [Role.USER if i % 2 == 0 else Role.ASSISTANT for i in range(len(turns))]
    return roles(prompt)[0] is Role.SYSTEM and turns == expected and turns[-1] is Role.USER


def test_an_unanswered_question_is_joined_to_the_next_one() -> None:
    history = [
        msg(Role.USER, "hola"),
        msg(Role.ASSISTANT, "¿En qué te ayudo?"),
        msg(Role.USER, "mi pedido es el 123"),
        msg(Role.ASSISTANT, "", MessageStatus.FAILED),
    ]
    prompt = build_prompt("S", [], history, "¿cuándo llega?", PromptBudget())
    assert alternates(prompt)
    assert prompt[-1].content == "mi pedido es el 123\n\n¿cuándo llega?"


def test_several_failures_in_a_row_still_alternate() -> None:
    history = [msg(Role.USER, "uno"), msg(Role.ASSISTANT, "Eco uno")]
    for text in ("dos", "tres", "cuatro"):
        history += [msg(Role.USER, text), msg(Role.ASSISTANT, "", MessageStatus.FAILED)]
    history += [msg(Role.USER, "cinco"), msg(Role.ASSISTANT, "Eco cinco")]
    history += [msg(Role.USER, "seis"), msg(Role.ASSISTANT, "", MessageStatus.INTERRUPTED)]
    prompt = build_prompt("S", [], history, "siete", PromptBudget())
    assert alternates(prompt)
    assert [m.content for m in prompt[1:]] == [
        "uno",
        "Eco uno",
        "dos\n\ntres\n\ncuatro\n\ncinco",
        "Eco cinco",
        "seis\n\nsiete",
    ]


def test_an_interrupted_reply_with_text_is_kept_as_the_answer() -> None:
    history = [msg(Role.USER, "hola"), msg(Role.ASSISTANT, "Buenos dí", MessageStatus.INTERRUPTED)]
    prompt = build_prompt("S", [], history, "¿sigues?", PromptBudget())
    assert alternates(prompt)
    assert [m.content for m in prompt[1:]] == ["hola", "Buenos dí", "¿sigues?"]


def test_adjacent_replies_and_system_messages_do_not_break_the_alternation() -> None:
    history = [  # two turns of one conversation run at once interleave their messages
        msg(Role.USER, "a"),
        msg(Role.USER, "b"),
        msg(Role.SYSTEM, "nota"),
        msg(Role.ASSISTANT, "ra"),
        msg(Role.ASSISTANT, "rb"),
    ]
    prompt = build_prompt("S", [], history, "c", PromptBudget())
    assert alternates(prompt)
    assert [m.content for m in prompt[1:]] == ["a\n\nb", "ra\n\nrb", "c"]


def test_history_cut_by_the_budget_starts_with_the_visitor() -> None:
    history = [msg(Role.USER, "q" * 400), msg(Role.ASSISTANT, "respuesta"), msg(Role.USER, "otra")]
    history.append(msg(Role.ASSISTANT, "vale"))
    prompt = build_prompt("S", [], history, "fin", PromptBudget(history_tokens=10))
    assert alternates(prompt)
    assert [m.content for m in prompt[1:]] == ["otra", "vale", "fin"]
    only_reply = build_prompt("S", [], history[:2], "fin", PromptBudget(history_tokens=10))
    assert [m.content for m in only_reply[1:]] == ["fin"]
