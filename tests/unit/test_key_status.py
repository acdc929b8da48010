"""What the app knows of the LLM key reaches readiness: refused by a check or a streamed turn, accepted again
by a later success, and re-checked in the background while no turn can tell."""

from __future__ import annotations

import asyncio

import pytest

from application.diagnostics import Diagnostics
from application.llm_status import KeyStatus, KeyWatch
from application.ports.chat_model import KeyCheck, ModelRequest, PromptMessage
from domain.conversations import Role
from domain.errors import LlmKeyRejected, LlmUnavailable
from tests.fakes.chat_model import ScriptedChatModel

ADVICE = "the provider rejected the key: set FAKE_API_KEY to a valid key and restart the server"
REQUEST = ModelRequest((PromptMessage(Role.USER, "hola"),))


class SwitchableKeyModel(ScriptedChatModel):
    def __init__(self) -> None:
        super().__init__()
        self.refused = True
        self.key_checks = 0

    async def _start(self, request: ModelRequest) -> None:
        await super()._start(request)
        if self.refused:
            raise LlmKeyRejected(f"fake:fake-model could not answer (HTTP 401): {ADVICE}.")

    async def verify_key(self) -> KeyCheck:
        self.key_checks += 1
        return KeyCheck(
            not self.refused, self.provider, "****abcd", ADVICE if self.refused else None, self.refused
        )


async def llm_ready(diagnostics: Diagnostics) -> tuple[bool, str | None]:
    readiness = await diagnostics.readiness()
    [llm] = [c for c in readiness.components if c.name == "llm"]
    return llm.ok, llm.detail


async def test_a_streamed_turn_refused_then_answered_moves_readiness() -> None:
    model, status = SwitchableKeyModel(), KeyStatus()
    diagnostics = Diagnostics(model, [], status)
    watched = KeyWatch(model, status)
    with pytest.raises(LlmKeyRejected):
        async for _ in watched.stream(REQUEST):
            pass
    ok, detail = await llm_ready(diagnostics)
    assert not ok and detail is not None and "FAKE_API_KEY" in detail
    model.refused = False
    assert [d async for d in watched.stream(REQUEST)]
    assert await llm_ready(diagnostics) == (True, None)


async def test_an_unreachable_provider_says_nothing_about_the_key() -> None:
    model, status = ScriptedChatModel(), KeyStatus()
    model.fail_before_first_token = True
    with pytest.raises(LlmUnavailable):
        await KeyWatch(model, status).complete(REQUEST)
    assert status.problem is None


async def test_while_refused_readiness_rechecks_the_key_in_the_background() -> None:
    model, status = SwitchableKeyModel(), KeyStatus()
    diagnostics = Diagnostics(model, [], status, key_recheck_seconds=0.2)
    assert not (await diagnostics.verify_key()).valid
    assert (await llm_ready(diagnostics))[0] is False
    assert model.key_checks == 1  # not again within the interval
    model.refused = False
    await asyncio.sleep(0.25)
    assert (await llm_ready(diagnostics))[0] is False  # this probe starts the re-check
    await asyncio.sleep(0.05)
    assert model.key_checks == 2
    assert await llm_ready(diagnostics) == (True, None)
    await diagnostics.close()
