"""The LangChain adapter against the fake provider: answers, usage, faults, timeouts and fallbacks."""

from __future__ import annotations

import time
from typing import Any

import pytest

from adapters.langchain.chat_model import LangChainChatModel
from adapters.langchain.failures import describe
from adapters.langchain.providers import profile_for
from application.ports.chat_model import ModelDelta, ModelRequest, PromptMessage
from domain.conversations import Role
from domain.errors import LlmKeyRejected, LlmStreamFailed, LlmUnavailable
from domain.usage import Usage
from tests.adapters.langchain.conftest import KEY, AdapterFactory
from tests.fakes.fake_llm import FakeLLMServer

QUESTION = ModelRequest((PromptMessage(Role.SYSTEM, "Be brief."), PromptMessage(Role.USER, "hola")))


def on(provider: str, fake: FakeLLMServer) -> dict[str, Any]:
    """Adapter settings that put `provider` on the primary fake server."""
    url = fake.base_url if provider == "groq" else f"{fake.base_url}/v1"
    return {"api_keys": {provider: KEY}, "base_urls": {provider: url}}


async def collect(adapter: LangChainChatModel, request: ModelRequest = QUESTION) -> list[ModelDelta]:
    return [delta async for delta in adapter.stream(request)]


async def collect_until_failure(adapter: LangChainChatModel) -> tuple[str, BaseException]:
    parts: list[str] = []
    with pytest.raises((LlmStreamFailed, LlmUnavailable)) as failure:
        async for delta in adapter.stream(QUESTION):
            parts.append(delta.text)
    return "".join(parts), failure.value


def last_model_and_usage(deltas: list[ModelDelta]) -> tuple[str | None, Usage | None]:
    model = usage = None
    for delta in deltas:
        model, usage = delta.model or model, delta.usage or usage
    return model, usage


# --- answers and usage, on each provider ------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["groq", "openai"])
async def test_a_whole_answer_names_its_model_and_usage(
    provider: str, fake: FakeLLMServer, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter(f"{provider}:llama-3.1-8b-instant", **on(provider, fake))
    reply = await adapter.complete(QUESTION)
    assert reply.text.startswith("Echo: hola") and len(reply.text.split()) == 8
    assert reply.model == f"{provider}:llama-3.1-8b-instant"
    assert reply.usage is not None and reply.usage.output_tokens == 8 and reply.usage.total_tokens > 8
    assert fake.last_request is not None and fake.last_request["api"] == provider


@pytest.mark.parametrize("provider", ["groq", "openai"])
async def test_a_streamed_answer_ends_with_usage(
    provider: str, fake: FakeLLMServer, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter(f"{provider}:llama-3.1-8b-instant", **on(provider, fake))
    deltas = await collect(adapter)
    text = "".join(d.text for d in deltas)
    assert text.startswith("Echo: hola") and len([d for d in deltas if d.text]) == 8
    model, usage = last_model_and_usage(deltas)
    assert model == f"{provider}:llama-3.1-8b-instant"
    assert usage is not None and usage.output_tokens == 8 and usage.input_tokens > 0
    assert deltas[0].text, "the first delta the use case awaits carries text"


async def test_an_agents_settings_and_bare_model_name_reach_the_default_provider(
    fake: FakeLLMServer, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter()
    request = ModelRequest(QUESTION.messages, "llama-3.3-70b-versatile", 0.1, 3)
    reply = await adapter.complete(request)
    sent = fake.last_request
    assert sent is not None and (sent["model"], sent["temperature"], sent["max_tokens"]) == (
        "llama-3.3-70b-versatile",
        0.1,
        3,
    )
    assert reply.model == "groq:llama-3.3-70b-versatile" and len(reply.text.split()) == 3
    await adapter.complete(QUESTION)  # the agent's settings did not leak into the default model
    assert fake.last_request is not None and fake.last_request["max_tokens"] == 2000


async def test_an_agent_may_name_another_provider(
    backup: FakeLLMServer, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter()
    reply = await adapter.complete(ModelRequest(QUESTION.messages, "openai:gpt-oss-20b"))
    assert reply.model == "openai:gpt-oss-20b"
    assert backup.last_request is not None and backup.last_request["api"] == "openai"


# --- faults ----------------------------------------------------------------------------------------------


async def test_one_rate_limit_is_retried_after_the_delay_it_asks(
    fake: FakeLLMServer, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter()
    fake.push_fault("rate_limit", retry_after=0.3)
    started = time.monotonic()
    reply = await adapter.complete(QUESTION)
    assert reply.text.startswith("Echo: hola") and time.monotonic() - started >= 0.3
    fake.push_fault("rate_limit", retry_after=0.3)
    assert "".join(d.text for d in await collect(adapter)).startswith("Echo: hola")
    assert len(fake.requests) == 4


async def test_a_provider_that_stays_down_is_unavailable_after_the_retries(
    fake: FakeLLMServer, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter(max_retries=1)
    fake.set_sticky_fault("unavailable")
    with pytest.raises(LlmUnavailable, match="HTTP 503"):
        await adapter.complete(QUESTION)
    text, error = await collect_until_failure(adapter)
    assert (text, type(error)) == ("", LlmUnavailable)
    assert len(fake.requests) == 4  # each call: the first try and one retry


async def test_a_stall_past_the_timeout_is_unavailable_in_time(
    fake: FakeLLMServer, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter(timeout=0.5, max_retries=2)
    fake.set_sticky_fault("stall", seconds=10)
    started = time.monotonic()
    with pytest.raises(LlmUnavailable, match=r"within 0\.5 s"):
        await adapter.complete(QUESTION)
    text, error = await collect_until_failure(adapter)
    assert (text, type(error)) == ("", LlmUnavailable)
    assert time.monotonic() - started < 2.5, "retries must not stretch the timeout"


async def test_a_slow_drip_is_cut_at_the_timeout_keeping_the_text_so_far(
    fake: FakeLLMServer, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter(timeout=0.6)
    fake.configure(answer_tokens=100, tokens_per_second=10, tick_ms=10)
    started = time.monotonic()
    text, error = await collect_until_failure(adapter)
    assert isinstance(error, LlmStreamFailed) and text.startswith("Echo: hola")
    assert time.monotonic() - started < 1.5


@pytest.mark.parametrize("style", ["error", "x_groq"])
async def test_an_error_inside_the_stream_is_a_failed_stream_not_retried(
    style: str, fake: FakeLLMServer, backup: FakeLLMServer, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter(fallback_models=("openai:gpt-oss-20b",))
    fake.push_fault("midstream_error", after_tokens=3, style=style)
    text, error = await collect_until_failure(adapter)
    assert isinstance(error, LlmStreamFailed) and error.code == "llm_stream_failed"
    assert text == "Echo: hola lorem "
    assert len(fake.requests) == 1 and backup.requests == []


async def test_a_stream_cut_before_any_text_falls_back(
    fake: FakeLLMServer, backup: FakeLLMServer, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter(fallback_models=("openai:gpt-oss-20b",))
    fake.push_fault("midstream_error", after_tokens=0, style="x_groq")
    deltas = await collect(adapter)
    assert last_model_and_usage(deltas)[0] == "openai:gpt-oss-20b" and len(backup.requests) == 1


async def test_a_malformed_response_is_an_error_not_a_crash(
    fake: FakeLLMServer, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter()
    fake.push_fault("malformed")
    with pytest.raises(LlmUnavailable):
        await adapter.complete(QUESTION)
    fake.push_fault("malformed", after_tokens=2)
    text, error = await collect_until_failure(adapter)
    assert isinstance(error, LlmStreamFailed) and text == "Echo: hola "


async def test_a_dropped_connection(fake: FakeLLMServer, make_adapter: AdapterFactory) -> None:
    adapter = make_adapter()
    fake.push_fault("disconnect", after_tokens=2)
    text, error = await collect_until_failure(adapter)
    assert isinstance(error, LlmStreamFailed) and text == "Echo: hola "
    fake.push_fault("disconnect")  # a whole answer cut in half: the SDK retries it
    reply = await adapter.complete(QUESTION)
    assert reply.text.startswith("Echo: hola") and len(fake.requests) == 3


async def test_a_refused_connection_is_unavailable(make_adapter: AdapterFactory) -> None:
    adapter = make_adapter(base_urls={"groq": "http://127.0.0.1:9"}, max_retries=0)
    with pytest.raises(LlmUnavailable, match="APIConnectionError"):
        await adapter.complete(QUESTION)
    text, error = await collect_until_failure(adapter)
    assert (text, type(error)) == ("", LlmUnavailable)


# --- fallbacks -------------------------------------------------------------------------------------------


async def test_a_fallback_answers_when_the_primary_keeps_failing_and_is_named(
    fake: FakeLLMServer, backup: FakeLLMServer, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter(fallback_models=("openai:gpt-oss-20b",), max_retries=0)
    fake.set_sticky_fault("server_error")
    reply = await adapter.complete(QUESTION)
    assert reply.model == "openai:gpt-oss-20b" and reply.usage is not None
    deltas = await collect(adapter)
    model, usage = last_model_and_usage(deltas)
    assert model == "openai:gpt-oss-20b" and usage is not None and usage.output_tokens == 5
    assert all(d.model == "openai:gpt-oss-20b" for d in deltas)
    assert len(backup.requests) == 2


async def test_a_stalled_primary_falls_back_within_its_own_timeout(
    fake: FakeLLMServer, backup: FakeLLMServer, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter(fallback_models=("openai:gpt-oss-20b",), timeout=0.5)
    fake.set_sticky_fault("stall", seconds=10)
    deltas = await collect(adapter)
    assert last_model_and_usage(deltas)[0] == "openai:gpt-oss-20b"


async def test_when_every_model_fails_the_error_says_why_for_each(
    fake: FakeLLMServer, backup: FakeLLMServer, make_adapter: AdapterFactory
) -> None:
    adapter = make_adapter(fallback_models=("openai:gpt-oss-20b",), max_retries=0)
    fake.set_sticky_fault("unavailable")
    backup.set_sticky_fault("server_error")
    with pytest.raises(LlmUnavailable) as failure:
        await adapter.complete(QUESTION)
    assert "groq:llama-3.1-8b-instant" in failure.value.detail and "HTTP 500" in failure.value.detail


# --- configuration ---------------------------------------------------------------------------------------


async def test_without_a_key_the_model_says_which_variable_to_set(make_adapter: AdapterFactory) -> None:
    adapter = make_adapter(api_keys={})
    assert "GROQ_API_KEY" in (adapter.unavailable_reason() or "")
    with pytest.raises(LlmUnavailable, match="GROQ_API_KEY"):
        await adapter.complete(QUESTION)
    with pytest.raises(LlmUnavailable, match="GROQ_API_KEY"):
        await collect(adapter)
    key = await adapter.verify_key()
    assert (key.valid, key.key_hint) == (False, None)


async def test_a_self_hosted_openai_compatible_server_needs_no_key(
    backup: FakeLLMServer, make_adapter: AdapterFactory
) -> None:
    backup.api_keys = None  # accepts any key, like llama.cpp or vLLM without --api-key
    try:
        adapter = make_adapter("openai:local-model", api_keys={})
        assert adapter.unavailable_reason() is None
        assert (await adapter.complete(QUESTION)).model == "openai:local-model"
    finally:
        backup.api_keys = frozenset({"sk-backup-key-9876543210"})


async def test_a_fallback_with_a_key_makes_the_platform_ready(make_adapter: AdapterFactory) -> None:
    adapter = make_adapter(api_keys={"openai": "sk-backup-key-9876543210"}, fallback_models=("openai:x",))
    assert adapter.unavailable_reason() is None


def test_a_bad_provider_fails_at_startup(make_adapter: AdapterFactory) -> None:
    with pytest.raises(LlmUnavailable, match="nosuchprovider"):
        make_adapter("nosuchprovider:model")


async def test_a_reply_past_the_hard_cap_is_cut_as_a_failed_stream(
    fake: FakeLLMServer, make_adapter: AdapterFactory
) -> None:
    """A provider that ignores max_tokens cannot grow a reply past LLM_MAX_REPLY_CHARS (issue 12, item 7)."""
    fake.configure(answer="palabra " * 100)
    adapter = make_adapter("groq:llama-3.1-8b-instant", max_reply_chars=50, **on("groq", fake))
    text, failure = await collect_until_failure(adapter)
    assert isinstance(failure, LlmStreamFailed) and "more than 50 characters" in failure.detail
    assert 0 < len(text) <= 50
    with pytest.raises(LlmUnavailable, match="more than 50 characters"):
        await adapter.complete(QUESTION)


@pytest.mark.parametrize(
    ("model", "variable"),
    [("groq:llama-3.1-8b-instant", "GROQ_API_KEY"), ("openai:gpt-4o-mini", "OPENAI_API_KEY")],
)
async def test_a_refused_key_names_the_providers_own_variable(
    make_adapter: AdapterFactory, model: str, variable: str
) -> None:
    adapter = make_adapter(
        model, api_keys={"groq": "wrong-groq-key", "openai": "wrong-openai-key"}, max_retries=0
    )
    for call in (adapter.complete(QUESTION), collect(adapter)):
        with pytest.raises(LlmKeyRejected, match=f"rejected the key: set {variable}"):
            await call
    key = await adapter.verify_key()
    assert (key.valid, key.rejected) == (False, True) and variable in (key.error or "")
    check = await adapter.check()
    assert (check.ok, check.rejected) == (False, True) and variable in (check.error or "")


@pytest.mark.parametrize(
    ("provider", "advice"),
    [
        ("anthropic", "set ANTHROPIC_API_KEY"),
        ("mistralai", "set MISTRAL_API_KEY"),
        ("ollama", "check the server's access settings"),  # ollama has no key: a proxy in front refused
    ],
)
def test_every_providers_refusal_says_what_to_do(provider: str, advice: str) -> None:
    refused = type("AuthenticationError", (Exception,), {"status_code": 401})()
    detail = describe(f"{provider}:m", refused, profile_for(provider).key_env)
    assert advice in detail and "HTTP 401" in detail
