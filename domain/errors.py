"""Domain errors: each carries a stable machine `code` that clients build against (PRODUCT.md)."""

from __future__ import annotations


class CentralitaError(Exception):
    """Base of every error a client may see; `code` is stable, the message is a human sentence."""

    code: str = "error"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class NotFound(CentralitaError):
    """Something the request names does not exist."""


class AgentNotFound(NotFound):
    code = "agent_not_found"

    def __init__(self, agent_id: int) -> None:
        super().__init__(f"Agent {agent_id} does not exist.")
        self.agent_id = agent_id


class ConversationNotFound(NotFound):
    code = "conversation_not_found"

    def __init__(self, conversation_id: str) -> None:
        super().__init__(f"Conversation {conversation_id} does not exist.")


class VisitorNotFound(NotFound):
    code = "visitor_not_found"

    def __init__(self, session_id: str) -> None:
        super().__init__(f"No visitor has session_id {session_id!r}.")


class DocumentNotFound(NotFound):
    code = "document_not_found"

    def __init__(self, document_id: str) -> None:
        super().__init__(f"Document {document_id} does not exist for this agent.")


class InvalidInput(CentralitaError):
    """The request is well-formed but its content breaks a rule (HTTP 422)."""

    code = "invalid_input"


class InvalidSessionId(InvalidInput):
    code = "invalid_session_id"


class EmptyMessage(InvalidInput):
    code = "empty_message"


class InvalidOrigin(InvalidInput):
    code = "invalid_origin"


class InvalidAgent(InvalidInput):
    code = "invalid_agent"


class MessageTooLong(CentralitaError):
    code = "message_too_long"

    def __init__(self, length: int, limit: int) -> None:
        super().__init__(f"The message has {length} characters; at most {limit} are accepted.")
        self.length = length
        self.limit = limit


class InvalidCharacters(InvalidInput):
    code = "invalid_characters"


class InvalidDocument(InvalidInput):
    code = "invalid_document"


class EmptyDocument(InvalidInput):
    code = "empty_document"


class DocumentTooLarge(CentralitaError):
    code = "document_too_large"

    def __init__(self, limit_bytes: int) -> None:
        super().__init__(f"The document is larger than the {limit_bytes / 1_048_576:g} MB accepted.")
        self.limit_bytes = limit_bytes


class UnsupportedDocumentType(CentralitaError):
    code = "unsupported_document_type"

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} is not supported: send JSON text, or a .txt, .md or .pdf file.")


class ResumeGap(CentralitaError):
    """A client asked to resume a conversation's feed from before the oldest event still kept (HTTP 409)."""

    code = "resume_gap"

    def __init__(self, after_event_id: int, oldest_kept: int) -> None:
        super().__init__(
            f"Events after {after_event_id} are no longer kept (the oldest is {oldest_kept}); "
            "reload the conversation from the history route and resume from its event_id."
        )
        self.after_event_id = after_event_id
        self.oldest_kept = oldest_kept


class TooManyRequests(CentralitaError):
    """A limit on how much one visitor or address may ask was reached (HTTP 429); `retry_after` in seconds."""

    def __init__(self, detail: str, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class RateLimited(TooManyRequests):
    code = "rate_limited"


class QuotaExceeded(TooManyRequests):
    code = "quota_exceeded"


class Unavailable(CentralitaError):
    """A dependency the turn needs cannot serve now (HTTP 503)."""


class LlmUnavailable(Unavailable):
    code = "llm_unavailable"


class LlmKeyRejected(LlmUnavailable):
    """The provider refused the configured key (HTTP 401/403): no call can succeed until it is fixed."""


class LlmStreamFailed(Unavailable):
    """The provider failed after the answer had started streaming."""

    code = "llm_stream_failed"


class ReplyInterrupted(Unavailable):
    """A reply was stopped before it ended (the server shut down, or its client left with
    STREAM_ON_DISCONNECT=cancel); what it had said is stored `interrupted`."""

    code = "reply_interrupted"

    def __init__(self) -> None:
        super().__init__("The answer was stopped before it ended.")


class StoreUnavailable(Unavailable):
    code = "store_unavailable"


class KnowledgeUnavailable(Unavailable):
    code = "knowledge_unavailable"
