"""`centralita doctor`: is this installation able to answer, and if not, what to fix.

The checks run in this process with the same settings and container as the server (so they also work while
no server runs): configuration, the store, the knowledge index, the embedder, the LLM provider; and, with
`--server URL`, the running server's `/ready`, whose LLM state replaces the local one (the server's key and
provider are what answer visitors). Each check is `ok`, `warn` (works, but worth knowing) or
`fail` (broken), with the fix named. The exit code is 1 when any check fails.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Awaitable
from dataclasses import asdict, dataclass
from typing import Any

import typer
from rich.table import Table

from entrypoints.cli.common import ExitCode, console

OK, WARN, FAIL, SKIP = "ok", "warn", "fail", "skip"
_MARKS = {OK: "[green]✔ ok[/]", WARN: "[yellow]! warn[/]", FAIL: "[red]✘ fail[/]", SKIP: "[dim]- skip[/]"}


@dataclass
class Check:
    name: str
    status: str
    detail: str
    fix: str = ""


def doctor(
    timeout: float = typer.Option(5.0, min=0.1, help="Seconds each network check may take (store, LLM)."),
    llm_call: bool = typer.Option(
        True, "--llm-call/--no-llm-call", help="Send the provider a one-token request (a real, tiny call)."
    ),
    server: str | None = typer.Option(
        None, "--server", help="Also ask this running server's /ready (e.g. http://127.0.0.1:8000)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the checks as JSON for scripts."),
) -> None:
    """Check configuration, store, knowledge index, embedder and LLM provider; name the fix for each problem.

    Exit code 0 when nothing is broken (warnings allowed), 1 when a check failed.
    """
    checks = asyncio.run(run_checks(timeout, llm_call, server))
    if as_json:
        sys.stdout.write(json.dumps([asdict(c) for c in checks], indent=2) + "\n")
    else:
        _print(checks)
    if any(c.status == FAIL for c in checks):
        raise typer.Exit(int(ExitCode.FAILED))


async def run_checks(seconds: float, llm_call: bool, server: str | None) -> list[Check]:
    from pydantic import ValidationError

    from entrypoints.settings import Settings

    try:
        settings = Settings()
    except ValidationError as error:
        return [_settings_failure(error)]
    checks = _configuration(settings)
    if any(c.status == FAIL for c in checks):
        return checks

    from dependency_injector import providers

    from adapters.mongodb.connection import MongoConnection
    from entrypoints.container import build_container

    container = build_container(settings)
    uri = settings.mongodb_uri.get_secret_value() if settings.mongodb_uri else None
    connection = MongoConnection(uri, settings.mongodb_db, settings.data_dir, int(seconds * 1000))
    container.mongo.override(providers.Object(connection))
    try:
        store = await _store(container, settings, connection, seconds)
        checks.append(store)
        embedder = await _guard("embedder", _embedder(container), seconds + 60, "check EMBEDDINGS_MODEL")
        checks.append(embedder)
        if store.status == OK or settings.storage == "memory":
            checks.append(await _guard("knowledge index", _knowledge(container, settings), seconds + 5, ""))
        else:
            checks.append(Check("knowledge index", SKIP, "needs the store"))
        ready: Check | None = None
        components: dict[str, dict[str, Any]] = {}
        if server:
            ready, components = await asyncio.to_thread(_server, server, seconds)
        if "llm" in components:  # the server's own key and provider, not this shell's
            checks.append(_server_llm(server or "", components["llm"], settings))
        else:
            checks.append(await _llm(container, settings, llm_call, seconds))
        if ready:
            checks.append(ready)
    finally:
        if settings.storage == "mongodb":
            await connection.close()
    return checks


def _settings_failure(error: Any) -> Check:
    problems = []
    for item in error.errors():
        where = ".".join(str(part) for part in item.get("loc", ())) or "settings"
        problems.append(f"{where.upper()}: {item.get('msg')}")
    return Check(
        "configuration",
        FAIL,
        "; ".join(problems),
        "correct these variables in the environment or .env (docs/configuration.md lists every setting)",
    )


def _configuration(settings: Any) -> list[Check]:
    checks = [
        Check(
            "configuration",
            OK,
            f"model {settings.llm_model}, storage {settings.storage}, "
            f"vector search {settings.vector_search}, embedder {settings.embeddings_model}",
        )
    ]
    if settings.vector_search == "atlas" and settings.storage == "mongodb" and settings.mongodb_uri is None:
        checks[0] = Check(
            "configuration",
            FAIL,
            "VECTOR_SEARCH=atlas needs MONGODB_URI (the embedded server has no Atlas Search)",
            "set MONGODB_URI to the Atlas cluster, or VECTOR_SEARCH=local",
        )
    if settings.admin_api_key is None:
        checks.append(
            Check(
                "admin access",
                WARN,
                "ADMIN_API_KEY is unset: admin routes answer only clients on this machine",
                "set ADMIN_API_KEY to manage agents and documents from elsewhere",
            )
        )
    else:
        checks.append(Check("admin access", OK, "ADMIN_API_KEY is set"))
    return checks


async def _guard(name: str, check: Awaitable[Check], seconds: float, fix: str) -> Check:
    try:
        return await asyncio.wait_for(check, seconds)
    except TimeoutError:
        return Check(name, FAIL, f"no answer within {seconds:g} s", fix)
    except Exception as error:
        return Check(name, FAIL, f"{type(error).__name__}: {error}", fix)


async def _store(container: Any, settings: Any, connection: Any, seconds: float) -> Check:
    if settings.storage == "memory":
        return Check(
            "store", WARN, "memory: nothing is kept when the server stops", "unset STORAGE for MongoDB"
        )
    from adapters.mongodb.connection import StoreStartupError
    from adapters.mongodb.embedded_server import EmbeddedServerError

    started = time.perf_counter()
    try:
        await asyncio.wait_for(connection.open(), seconds + (60 if settings.mongodb_uri is None else 2))
    except StoreStartupError as error:
        return Check("store", FAIL, str(error), "check MONGODB_URI and that MongoDB runs (or unset it)")
    except EmbeddedServerError as error:
        if "another" in str(error) and "pid" in str(error):
            return Check(
                "store",
                WARN,
                f"the embedded store in {settings.data_dir} is in use by a running server",
                "that is fine; add --server URL to check the running server",
            )
        return Check("store", FAIL, str(error), "see docs/secantusdb.md, or set MONGODB_URI")
    except TimeoutError:
        return Check(
            "store", FAIL, f"MongoDB did not answer within {seconds:g} s", "check MONGODB_URI and the network"
        )
    health = await container.store_probe().health()
    if not health.ok:
        return Check("store", FAIL, health.detail or "the store does not answer", "check MONGODB_URI")
    return Check("store", OK, f"{health.kind}, database {settings.mongodb_db} ({_ms(started)})")


async def _embedder(container: Any) -> Check:
    started = time.perf_counter()
    embedder = await asyncio.to_thread(container.embedder)
    vector = await embedder.embed_query("¿A qué hora abren?")
    if len(vector) != embedder.dimensions:
        return Check(
            "embedder",
            FAIL,
            f"{embedder.name} returned {len(vector)} of {embedder.dimensions} values",
            "check EMBEDDINGS_MODEL",
        )
    return Check("embedder", OK, f"{embedder.name}, {embedder.dimensions} dimensions ({_ms(started)})")


async def _knowledge(container: Any, settings: Any) -> Check:
    from application.knowledge import EmbeddingMismatch

    store = container.knowledge_store()
    await store.load()
    try:
        await container.knowledge_service().check_embedder()
    except EmbeddingMismatch as error:
        return Check(
            "knowledge index",
            FAIL,
            str(error).split(". Set")[0],
            "set EMBEDDINGS_MODEL back, or re-upload the documents",
        )
    dimensions = await store.stored_dimensions()
    held = f"{dimensions}-dimensional vectors stored" if dimensions else "empty"
    if settings.storage == "memory":
        return Check("knowledge index", OK, f"in memory, {held}")
    if settings.vector_search == "atlas":
        collection = store.vectorstore.collection  # the AtlasKnowledgeStore's pymongo Collection
        names = [
            i.get("name") for i in await asyncio.to_thread(lambda: list(collection.list_search_indexes()))
        ]
        if settings.atlas_index_name not in names:
            return Check(
                "knowledge index",
                FAIL,
                f"Atlas has no search index {settings.atlas_index_name} on knowledge_chunks",
                "run `centralita atlas create-index`",
            )
        return Check("knowledge index", OK, f"Atlas index {settings.atlas_index_name}, {held}")
    return Check("knowledge index", OK, f"local index over MongoDB, {held}")


async def _llm(container: Any, settings: Any, call: bool, seconds: float) -> Check:
    name = f"LLM {settings.llm_model}"
    try:
        model = container.chat_model()
    except Exception as error:
        return Check("llm", FAIL, f"{name} cannot be built: {error}", "check LLM_MODEL (`provider:model`)")
    reason = model.unavailable_reason()
    if reason:
        return Check("llm", FAIL, reason, _key_fix(settings))
    if not call:
        return Check("llm", OK, f"{name} configured (not called: --no-llm-call)")
    try:
        check = await asyncio.wait_for(model.check(), seconds + settings.llm_timeout)
    except TimeoutError:
        return Check(
            "llm",
            FAIL,
            f"{name} did not answer within {seconds:g} s",
            "check the provider's base URL and the network",
        )
    if not check.ok:
        return Check(
            "llm",
            FAIL,
            check.error or "the provider refused",
            _key_fix(settings) + " and the provider's base URL",
        )
    return Check("llm", OK, f"{name} answered in {check.latency_ms or 0:.0f} ms")


def _key_fix(settings: Any) -> str:
    keys = {
        "groq": "GROQ_API_KEY",
        "openai": "OPENAI_API_KEY (or OPENAI_BASE_URL)",
        "ollama": "OLLAMA_BASE_URL",
    }
    variable = keys.get(settings.llm_provider, "the provider's key variable")
    return f"set {variable} (in the environment or .env), or choose another provider with LLM_MODEL"


def _server_llm(server: str, component: dict[str, Any], settings: Any) -> Check:
    detail = component.get("detail") or component.get("kind") or ""
    where = f"{server.rstrip('/')}/ready"
    if component.get("ok"):
        return Check("llm", OK, f"{detail} (from {where})".strip())
    return Check(
        "llm", FAIL, f"{detail or 'not ready'} (from {where})", _key_fix(settings) + " where the server runs"
    )


def _server(server: str, timeout: float) -> tuple[Check, dict[str, dict[str, Any]]]:
    """The server's readiness, and its components (empty when it does not answer)."""
    import httpx

    url = server.rstrip("/")
    try:
        response = httpx.get(f"{url}/ready", timeout=timeout)
        body = response.json()
    except (httpx.HTTPError, ValueError) as error:
        return Check(
            "server", FAIL, f"{url} does not answer ({type(error).__name__})", "start it: `centralita serve`"
        ), {}
    components = body.get("components", {}) if isinstance(body, dict) else {}
    broken = [
        f"{name}: {c.get('detail') or 'not ready'}" for name, c in components.items() if not c.get("ok")
    ]
    if response.status_code == 200:
        return Check("server", OK, f"{url} is ready"), components
    return Check(
        "server", FAIL, f"{url} is not ready: " + "; ".join(broken), "see the failing component above"
    ), components


def _ms(started: float) -> str:
    return f"{(time.perf_counter() - started) * 1000:.0f} ms"


def _print(checks: list[Check]) -> None:
    table = Table(title="centralita doctor", title_justify="left", show_lines=False)
    table.add_column("check", style="bold")
    table.add_column("status")
    table.add_column("detail", overflow="fold")
    table.add_column("fix", overflow="fold", style="yellow")
    for check in checks:
        table.add_row(check.name, _MARKS[check.status], check.detail, check.fix)
    console.print(table)
    failed = sum(c.status == FAIL for c in checks)
    if failed:
        console.print(f"[red]{failed} problem{'s' if failed > 1 else ''} to fix.[/]")
    else:
        console.print("[green]Everything needed to answer is in place.[/]")
