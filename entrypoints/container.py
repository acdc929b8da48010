"""The composition root: the one place that knows which adapter serves each port.

Adapters are chosen by the settings of PRODUCT.md through `providers.Selector`; `resolve_all()` builds every
selected provider at startup so that a bad setting fails fast with a clear message, not on the first request.
"""

from __future__ import annotations

from dependency_injector import containers, providers

from adapters.knowledge.empty import EmptyRetriever
from adapters.langchain.chat_model import LangChainChatModel, LlmConfig
from adapters.memory.agents import MemoryAgentRepository
from adapters.memory.conversations import MemoryConversationRepository
from adapters.memory.visitors import MemoryVisitorRepository
from adapters.metrics.chat_model import InstrumentedChatModel
from adapters.metrics.retriever import InstrumentedRetriever
from application.agents import AgentService
from application.chat import ChatLimits, ChatService
from application.conversations import ConversationQueries
from application.diagnostics import Diagnostics
from application.prompt import PromptBudget
from entrypoints.settings import Settings


def llm_config(settings: Settings) -> LlmConfig:
    """The LLM settings, keys and URLs passed explicitly so that values from `.env` reach the SDKs too."""
    keys = {"groq": settings.groq_api_key, "openai": settings.openai_api_key}
    urls = {
        "groq": settings.groq_base_url,
        "openai": settings.openai_base_url,
        "ollama": settings.ollama_base_url,
    }
    return LlmConfig(
        model=settings.llm_model,
        temperature=settings.llm_temperature,
        max_tokens=settings.llm_max_tokens,
        timeout=settings.llm_timeout,
        max_retries=settings.llm_max_retries,
        fallback_models=tuple(settings.llm_fallback_models),
        api_keys={name: key.get_secret_value() for name, key in keys.items() if key},
        base_urls={name: url for name, url in urls.items() if url},
    )


def chat_limits(settings: Settings) -> ChatLimits:
    return ChatLimits(settings.max_message_chars, PromptBudget(history_tokens=settings.history_token_budget))


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

    storage = providers.Callable(lambda s: s.storage, settings)

    # --- stores, by STORAGE ----------------------------------------------------------------------------
    memory_agents = providers.Singleton(MemoryAgentRepository)
    agents = providers.Selector(storage, memory=memory_agents)
    visitors = providers.Selector(storage, memory=providers.Singleton(MemoryVisitorRepository))
    conversations = providers.Selector(storage, memory=providers.Singleton(MemoryConversationRepository))
    store_probe = providers.Selector(storage, memory=memory_agents)

    # --- knowledge and the model -----------------------------------------------------------------------
    retriever = providers.Singleton(EmptyRetriever)
    chat_model = providers.Singleton(LangChainChatModel, providers.Callable(llm_config, settings))

    # --- use cases -------------------------------------------------------------------------------------
    chat_service = providers.Singleton(
        ChatService,
        agents,
        visitors,
        conversations,
        providers.Singleton(InstrumentedRetriever, retriever),  # measured for /metrics
        providers.Singleton(InstrumentedChatModel, chat_model),
        providers.Callable(chat_limits, settings),
    )
    agent_service = providers.Singleton(AgentService, agents)
    conversation_queries = providers.Singleton(ConversationQueries, conversations, visitors, agents)
    diagnostics = providers.Singleton(Diagnostics, chat_model, providers.List(store_probe))


def build_container(settings: Settings) -> Container:
    container = Container(settings=settings)
    return container


def resolve_all(container: Container) -> None:
    """Build every selected provider now, so a bad setting stops startup with its own message."""
    for provider in (
        container.agents,
        container.visitors,
        container.conversations,
        container.retriever,
        container.chat_model,
        container.chat_service,
        container.agent_service,
        container.conversation_queries,
        container.diagnostics,
    ):
        provider()
