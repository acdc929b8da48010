"""`centralita doctor`: green on a healthy setup, red with the fix named (and exit 1) on a broken one."""

from __future__ import annotations

import json

from tests.cli.conftest import Run


def checks(output: str) -> dict[str, dict]:
    return {c["name"]: c for c in json.loads(output)}


def test_green_with_memory_storage_and_a_reachable_provider(
    run: Run, llm_env: dict[str, str], server: str
) -> None:
    result = run("doctor", "--json", "--server", server, env=llm_env)
    assert result.returncode == 0, result.stdout + result.stderr
    found = checks(result.stdout)
    assert {
        n: found[n]["status"] for n in ("configuration", "embedder", "knowledge index", "llm", "server")
    } == {
        "configuration": "ok",
        "embedder": "ok",
        "knowledge index": "ok",
        "llm": "ok",
        "server": "ok",
    }
    assert found["store"]["status"] == "warn"  # memory: nothing persisted — works, worth knowing

    table = run("doctor", env=llm_env)
    assert table.returncode == 0 and "Everything needed to answer is in place." in table.stdout


def test_red_without_the_llm_key_names_the_variable(run: Run, llm_env: dict[str, str]) -> None:
    env = {**llm_env, "GROQ_API_KEY": ""}
    result = run("doctor", "--json", env=env)
    assert result.returncode == 1
    llm = checks(result.stdout)["llm"]
    assert llm["status"] == "fail" and "GROQ_API_KEY" in llm["fix"]
    table = run("doctor", env=env)
    assert table.returncode == 1 and "1 problem to fix." in table.stdout and "GROQ_API_KEY" in table.stdout


def test_with_server_the_llm_state_is_the_servers(run: Run, llm_env: dict[str, str], server: str) -> None:
    env = {**llm_env, "GROQ_API_KEY": ""}  # the key is only in the server's environment
    result = run("doctor", "--json", "--server", server, env=env)
    found = checks(result.stdout)
    assert found["llm"]["status"] == "ok" and server in found["llm"]["detail"]
    assert found["server"]["status"] == "ok" and result.returncode == 0
    table = run("doctor", "--server", server, env=env)
    assert table.returncode == 0 and "Everything needed to answer is in place." in table.stdout


def test_red_when_mongodb_is_unreachable(run: Run, llm_env: dict[str, str]) -> None:
    env = {**llm_env, "STORAGE": "mongodb", "MONGODB_URI": "mongodb://127.0.0.1:9/?directConnection=true"}
    result = run("doctor", "--json", "--timeout", "1", "--no-llm-call", env=env)
    assert result.returncode == 1
    found = checks(result.stdout)
    assert found["store"]["status"] == "fail" and "MONGODB_URI" in found["store"]["fix"]
    assert found["knowledge index"]["status"] == "skip"


def test_red_on_an_invalid_setting(run: Run) -> None:
    result = run("doctor", "--json", env={"LLM_TEMPERATURE": "7"})
    assert result.returncode == 1
    configuration = checks(result.stdout)["configuration"]
    assert configuration["status"] == "fail" and "LLM_TEMPERATURE" in configuration["detail"]
