"""The composition root: the one place that knows which adapter serves each port.

Adapters are chosen by the settings of PRODUCT.md through `providers.Selector`; `resolve_all()` builds every
selected provider at startup so that a bad setting fails fast with a clear message, not on the first request.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from dependency_injector import containers, providers

from adapters.knowledge.files import FileReader, RecursiveSplitter
from adapters.knowledge.health import KnowledgeHealthProbe
from adapters.knowledge.markdown import MarkdownRenderer
from adapters.knowledge.memory import MemoryKnowledgeStore
from adapters.langchain.chat_model import LangChainChatModel, LlmConfig
from adapters.langchain.embeddings import LangChainEmbedder
from adapters.memory.agents import MemoryAgentRepository
from adapters.memory.audit import MemoryAuditLog
from adapters.memory.conversations import MemoryConversationRepository
from adapters.memory.feed import MemoryConversationFeed
from adapters.memory.limits import MemoryRateLimiter, MemoryUsageQuota
from adapters.memory.visitors import MemoryVisitorRepository
from adapters.metrics.chat_model import InstrumentedChatModel
from adapters.metrics.chat_turns import MeteredChatTurns
from adapters.metrics.retriever import InstrumentedRetriever
from adapters.mongodb.agents import MongoAgentRepository
from adapters.mongodb.audit import MongoAuditLog
from adapters.mongodb.connection import MongoConnection
from adapters.mongodb.conversations import MongoConversationRepository
from adapters.mongodb.feed import MongoConversationFeed
from adapters.mongodb.health import MongoHealthProbe
from adapters.mongodb.knowledge import MongoKnowledgeRecords, MongoKnowledgeStore
from adapters.mongodb.limits import MongoRateLimiter, MongoUsageQuota
from adapters.mongodb.visitors import MongoVisitorRepository
from application.agents import AgentService
from application.audit import Auditor
from application.chat import ChatLimits, ChatService
from application.conversations import ConversationQueries
from application.diagnostics import Diagnostics
from application.knowledge import DocumentLimits, EmbeddingRetriever, KnowledgeService
from application.limits import ChatAdmission, TrafficLimits
from application.live_chat import LiveChat, LiveLimits
from application.llm_status import KeyStatus, KeyWatch
from application.ports.knowledge import KnowledgeStore
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
        max_reply_chars=settings.llm_max_reply_chars,
        fallback_models=tuple(settings.llm_fallback_models),
        api_keys={name: key.get_secret_value() for name, key in keys.items() if key},
        base_urls={name: url for name, url in urls.items() if url},
    )


def knowledge_backend(settings: Settings) -> str:
    """`memory` with STORAGE=memory (the same local index, nothing persisted), else VECTOR_SEARCH."""
    return "memory" if settings.storage == "memory" else settings.vector_search


def atlas_store(db: Any, settings: Settings) -> KnowledgeStore:
    # Imported here: langchain-mongodb's vector store costs ~0.4 s of import, paid only with VECTOR_SEARCH=atlas.
    from adapters.knowledge.atlas import AtlasKnowledgeStore, chunks_collection

    if settings.mongodb_uri is None:
        raise ValueError("VECTOR_SEARCH=atlas needs MONGODB_URI pointing at a MongoDB Atlas cluster.")
    chunks = chunks_collection(settings.mongodb_uri.get_secret_value(), settings.mongodb_db)
    return AtlasKnowledgeStore(
        MongoKnowledgeRecords(db),
        chunks,
        settings.atlas_index_name,
        check_interval=settings.knowledge_sync_seconds,
    )


def feed_retention(settings: Settings) -> timedelta:
    return timedelta(hours=settings.feed_retention_hours)


def traffic_limits(settings: Settings) -> TrafficLimits:
    return TrafficLimits(
        settings.rate_limit_session_per_minute,
        settings.rate_limit_ip_per_minute,
        settings.visitor_daily_token_quota,
    )


def live_limits(settings: Settings) -> LiveLimits:
    return LiveLimits(on_disconnect=settings.stream_on_disconnect)


def chat_limits(settings: Settings) -> ChatLimits:
    return ChatLimits(
        settings.max_message_chars,
        PromptBudget(history_tokens=settings.history_token_budget),
        settings.stream_save_seconds,
    )


class Container(containers.DeclarativeContainer):
    settings = providers.Dependency(instance_of=Settings)

    storage = providers.Callable(lambda s: s.storage, settings)

    # --- stores, by STORAGE ----------------------------------------------------------------------------
    # The connection is opened in the app's lifespan; repositories are built after it (resolve_all).
    mongo = providers.Singleton(
        lambda s: MongoConnection(
            s.mongodb_uri.get_secret_value() if s.mongodb_uri else None,
            s.mongodb_db,
            s.data_dir,
            server_selection_timeout_ms=s.mongodb_timeout_ms,
        ),
        settings,
    )
    mongo_database = mongo.provided.database
    memory_agents = providers.Singleton(MemoryAgentRepository)
    agents = providers.Selector(
        storage, memory=memory_agents, mongodb=providers.Singleton(MongoAgentRepository, mongo_database)
    )
    visitors = providers.Selector(
        storage,
        memory=providers.Singleton(MemoryVisitorRepository),
        mongodb=providers.Singleton(MongoVisitorRepository, mongo_database),
    )
    conversations = providers.Selector(
        storage,
        memory=providers.Singleton(MemoryConversationRepository),
        mongodb=providers.Singleton(MongoConversationRepository, mongo_database),
    )
    audit_log = providers.Selector(
        storage,
        memory=providers.Singleton(MemoryAuditLog),
        mongodb=providers.Singleton(MongoAuditLog, mongo_database),
    )
    # The live feed of each conversation: per process in memory; in MongoDB followed by every process and host.
    conversation_feed = providers.Selector(
        storage,
        memory=providers.Singleton(MemoryConversationFeed, providers.Callable(feed_retention, settings)),
        mongodb=providers.Singleton(
            MongoConversationFeed, mongo_database, providers.Callable(feed_retention, settings)
        ),
    )
    store_probe = providers.Selector(
        storage,
        memory=memory_agents,
        mongodb=providers.Singleton(MongoHealthProbe, mongo_database, mongo.provided.kind),
    )

    # Rate limits and quotas: per process in memory, shared by every worker in MongoDB.
    rate_limiter = providers.Selector(
        storage,
        memory=providers.Singleton(MemoryRateLimiter),
        mongodb=providers.Singleton(MongoRateLimiter, mongo_database),
    )
    usage_quota = providers.Selector(
        storage,
        memory=providers.Singleton(MemoryUsageQuota),
        mongodb=providers.Singleton(MongoUsageQuota, mongo_database),
    )
    admission = providers.Singleton(
        ChatAdmission, rate_limiter, usage_quota, providers.Callable(traffic_limits, settings)
    )

    # --- knowledge and the model -----------------------------------------------------------------------
    embedder = providers.Singleton(
        lambda s: LangChainEmbedder.from_setting(s.embeddings_model, s.embeddings_query_cache), settings
    )
    knowledge_store = providers.Selector(
        providers.Callable(knowledge_backend, settings),
        memory=providers.Singleton(MemoryKnowledgeStore),
        local=providers.Singleton(
            lambda db, s: MongoKnowledgeStore(db, check_interval=s.knowledge_sync_seconds),
            mongo_database,
            settings,
        ),
        atlas=providers.Singleton(atlas_store, mongo_database, settings),
    )
    retriever = providers.Singleton(
        EmbeddingRetriever, knowledge_store, embedder, providers.Singleton(MarkdownRenderer)
    )
    chat_model = providers.Singleton(LangChainChatModel, providers.Callable(llm_config, settings))
    key_status = providers.Singleton(KeyStatus)  # what the provider last said of the key, for /ready

    # --- use cases -------------------------------------------------------------------------------------
    chat_service = providers.Singleton(
        ChatService,
        agents,
        visitors,
        conversations,
        providers.Singleton(InstrumentedRetriever, retriever),  # measured for /metrics
        providers.Singleton(InstrumentedChatModel, providers.Singleton(KeyWatch, chat_model, key_status)),
        providers.Callable(chat_limits, settings),
        admission=admission,
    )
    chat_turns = providers.Singleton(  # the turn pipeline every channel calls, measured for /metrics
        MeteredChatTurns,
        providers.Singleton(
            LiveChat,
            chat_service,
            conversation_feed,
            conversations,
            providers.Callable(live_limits, settings),
            admission=admission,
        ),
    )
    auditor = providers.Singleton(Auditor, audit_log)  # admin changes, recorded by the use cases below
    agent_service = providers.Singleton(
        AgentService, agents, knowledge_store, audit=auditor, models=chat_model
    )
    knowledge_service = providers.Singleton(
        KnowledgeService,
        agents,
        knowledge_store,
        embedder,
        providers.Singleton(lambda s: RecursiveSplitter(s.chunk_size, s.chunk_overlap), settings),
        providers.Singleton(FileReader),
        providers.Callable(lambda s: DocumentLimits(s.max_document_bytes), settings),
        audit=auditor,
    )
    conversation_queries = providers.Singleton(
        ConversationQueries, conversations, visitors, agents, conversation_feed
    )
    knowledge_probe = providers.Singleton(
        KnowledgeHealthProbe, knowledge_store, embedder, providers.Callable(knowledge_backend, settings)
    )
    vitals = providers.Selector(storage, memory=providers.List(), mongodb=providers.List(mongo))
    diagnostics = providers.Singleton(
        Diagnostics, chat_model, providers.List(store_probe, knowledge_probe), key_status, vitals=vitals
    )


def build_container(settings: Settings) -> Container:
    container = Container(settings=settings)
    return container


def resolve_all(container: Container) -> None:
    """Build every selected provider now, so a bad setting stops startup with its own message."""
    for provider in (
        container.agents,
        container.visitors,
        container.conversations,
        container.audit_log,
        container.conversation_feed,
        container.auditor,
        container.embedder,
        container.knowledge_store,
        container.retriever,
        container.knowledge_service,
        container.chat_model,
        container.admission,
        container.chat_service,
        container.agent_service,
        container.conversation_queries,
        container.diagnostics,
    ):
        provider()


async def start_knowledge(container: Container) -> None:
    """Load the knowledge index and check the stored vectors fit the embedder (after resolve_all)."""
    await container.knowledge_store().load()
    await container.knowledge_service().check_embedder()
