"""The CLI against the real server (`centralita serve`, memory storage) answering through a fake Groq."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.server import running_server
from tests.fakes.fake_llm import FakeLLMServer

CENTRALITA = str(Path(sys.executable).parent / "centralita")
KEY = "cli-test-key"


@pytest.fixture(scope="package")
def fake_groq() -> Iterator[FakeLLMServer]:
    with FakeLLMServer(api_keys=KEY, answer_tokens=8).run_in_thread() as server:
        yield server


@pytest.fixture(scope="package")
def llm_env(fake_groq: FakeLLMServer) -> dict[str, str]:
    return {"STORAGE": "memory", "GROQ_API_KEY": KEY, "GROQ_BASE_URL": fake_groq.base_url}


@pytest.fixture(scope="package")
def server(llm_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_server(llm_env, tmp_path_factory.mktemp("server")) as url:
        yield url


Run = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run(tmp_path: Path) -> Run:
    """`centralita ARGS…` in a clean environment and working directory (no .env, no stray settings)."""

    def run(
        *args: str, env: dict[str, str] | None = None, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        clean = {
            k: v for k, v in os.environ.items() if not k.startswith(("GROQ_", "LLM_", "MONGODB_", "ADMIN_"))
        }
        clean.update({"COLUMNS": "200", "XDG_CONFIG_HOME": str(tmp_path / "config"), "NO_COLOR": "1"})
        clean.update(env or {})
        return subprocess.run(
            [CENTRALITA, *args],
            cwd=tmp_path,
            env=clean,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
        )

    return run
