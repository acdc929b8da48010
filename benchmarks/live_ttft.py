"""WebSocket time to first token and turn time through the conversation feed, on one store (issue 13).

    PYTHONPATH=. .venv/bin/python benchmarks/live_ttft.py [memory|mongodb] [--sessions 50] [--turns 2]

Starts the fake LLM (50 ms to the first token, 500 tokens/s, 150 tokens) and `centralita serve` on loopback
(embedded SecantusDB for `mongodb`), creates an agent without documents (no embedding on the path), opens
`--sessions` WebSockets and runs `--turns` turns on each at once. Prints p50 TTFT, p50 turn time and token
frames per turn. Run it on two checkouts one after the other on a quiet machine to compare.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import load
from benchmarks.load import pct
from tests.e2e.server import running_server
from tests.fakes.fake_llm import FakeLLMServer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("storage", nargs="?", default="memory", choices=("memory", "mongodb"))
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--turns", type=int, default=2)
    args = parser.parse_args()
    with FakeLLMServer(
        api_keys="k", answer_tokens=150, ttft_ms=50, tokens_per_second=500
    ).run_in_thread() as llm:
        work = Path(tempfile.mkdtemp(prefix="live-ttft-"))
        env = {
            "GROQ_API_KEY": "k",
            "GROQ_BASE_URL": str(llm.base_url),
            "STORAGE": args.storage,
            "DATA_DIR": str(work / "data"),
            "RATE_LIMIT_SESSION_PER_MINUTE": "0",
            "RATE_LIMIT_IP_PER_MINUTE": "0",
            "VISITOR_DAILY_TOKEN_QUOTA": "0",
            "WS_MAX_CONNECTIONS_PER_IP": "100000",
        }
        with running_server(env, work) as url:
            agent = httpx.post(
                f"{url}/api/v1/agents", json={"name": "bench", "system_prompt": "Responde."}
            ).json()
            sample = asyncio.run(
                load.ws_sessions(url, args.sessions, args.turns, agent_id=agent["id"], tag="live")
            )
    print(
        f"{args.storage}: {sample.turns} turns, errors {sample.errors}, TTFT p50 {pct(sample.ttft_ms, 50):.0f} ms, "
        f"turn p50 {pct(sample.latencies_ms, 50):.0f} ms, token frames/turn {sample.frames / max(1, sample.turns):.1f}"
    )


if __name__ == "__main__":
    main()
