"""Every Centralita metric, defined once per process (prometheus-client's default registry).

Labels are bounded: route templates (never raw paths), agent ids (created by operators; a turn for an agent
that does not exist is labelled `none`), channels, outcomes, stable error codes, configured models and
providers. Never a session id, a message or an IP address.

Several uvicorn workers: each worker counts its own; with PROMETHEUS_MULTIPROC_DIR set (by `centralita serve
--workers N` when unset) `/metrics` sums every worker's files (docs/deployment.md, "Metrics").
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

PREFIX = "centralita"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

HTTP_REQUESTS = Counter(
    f"{PREFIX}_http_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    f"{PREFIX}_http_request_duration_seconds",
    "Time from the request to the end of its response body (a whole stream for SSE), by route and status.",
    ["method", "route", "status"],
    buckets=LATENCY_BUCKETS,
)
CHAT_TURNS = Counter(
    f"{PREFIX}_chat_turns_total",
    "Chat turns by agent, channel (rest, sse, ws) and outcome (complete, interrupted, failed) with the "
    "error code of a failed turn.",
    ["agent", "channel", "outcome", "code"],
)
LLM_TOKENS = Counter(
    f"{PREFIX}_llm_tokens_total",
    "Tokens the provider reported, by the model that answered and direction (in = prompt, out = answer).",
    ["model", "direction"],
)
LLM_FIRST_TOKEN = Histogram(
    f"{PREFIX}_llm_time_to_first_token_seconds",
    "Time from calling the model to the first piece of streamed text, by provider.",
    ["provider"],
    buckets=LATENCY_BUCKETS,
)
LLM_LATENCY = Histogram(
    f"{PREFIX}_llm_duration_seconds",
    "Time of a whole model call (mode: complete or stream), successful or not, by provider.",
    ["provider", "mode"],
    buckets=LATENCY_BUCKETS,
)
LLM_ERRORS = Counter(
    f"{PREFIX}_llm_errors_total",
    "Model calls that failed (after fallbacks), by provider and error code.",
    ["provider", "code"],
)
RETRIEVAL_LATENCY = Histogram(
    f"{PREFIX}_retrieval_duration_seconds",
    "Time to embed a question and find its knowledge chunks.",
    buckets=LATENCY_BUCKETS,
)
RETRIEVAL_ERRORS = Counter(
    f"{PREFIX}_retrieval_errors_total", "Knowledge retrievals that failed, by error code.", ["code"]
)
WEBSOCKETS_OPEN = Gauge(
    f"{PREFIX}_websocket_connections",
    "WebSocket chat connections open now.",
    multiprocess_mode="livesum",
)
RATE_LIMITED = Counter(
    f"{PREFIX}_rate_limited_total",
    "Chat requests and WebSocket messages refused with 429, by channel (rest, sse, ws) and code "
    "(rate_limited, quota_exceeded).",
    ["channel", "code"],
)
