"""`centralita ingest`: a folder with text, Markdown and PDF goes in once; unchanged files are then skipped."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.cli.conftest import Run
from tests.cli.pdf import one_page_pdf


def knowledge_folder(root: Path) -> Path:
    folder = root / "kb"
    (folder / "faq").mkdir(parents=True)
    (folder / "horario.txt").write_text("Abrimos de lunes a viernes de 9 a 18 h.\n", encoding="utf-8")
    (folder / "faq" / "envios.md").write_text("# Envíos\n\nLos envíos tardan 48 horas.\n", encoding="utf-8")
    (folder / "faq" / "devoluciones.pdf").write_bytes(
        one_page_pdf("Devoluciones\nTiene 30 dias para devolver un producto.")
    )
    (folder / "faq" / "notas.docx").write_bytes(b"not a supported type")
    (folder / ".hidden").mkdir()
    (folder / ".hidden" / "secret.txt").write_text("never uploaded")
    return folder


def documents(server: str, agent: int) -> list[dict]:
    return httpx.get(f"{server}/api/v1/agents/{agent}/documents", timeout=10).json()


def new_agent(server: str) -> int:
    body = {"name": "Ingest", "system_prompt": "Responde con los documentos."}
    return int(httpx.post(f"{server}/api/v1/agents", json=body, timeout=10).json()["id"])


def test_a_folder_goes_in_once_and_a_second_run_skips_everything(
    server: str, run: Run, tmp_path: Path
) -> None:
    agent = new_agent(server)
    knowledge_folder(tmp_path)

    first = run("ingest", "kb", "--agent", str(agent), "--server", server)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "3 added, 0 replaced, 0 unchanged, 0 failed; 1 other files ignored" in first.stdout
    titles = sorted(d["title"] for d in documents(server, agent))
    assert titles == ["Envíos", "devoluciones", "horario"]  # a Markdown file: its heading
    pdf = next(d for d in documents(server, agent) if d["title"] == "devoluciones")
    assert pdf["source"] == "kb/faq/devoluciones.pdf" and pdf["chunks"] >= 1

    second = run("ingest", "kb", "--agent", str(agent), "--server", server)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "0 added, 0 replaced, 3 unchanged, 0 failed" in second.stdout
    assert len(documents(server, agent)) == 3

    (tmp_path / "kb" / "horario.txt").write_text("Abrimos también los sábados.\n", encoding="utf-8")
    third = run("ingest", "kb", "--agent", str(agent), "--server", server)
    assert "0 added, 1 replaced, 2 unchanged" in third.stdout
    after = documents(server, agent)
    assert len(after) == 3 and {d["title"] for d in after} == {"devoluciones", "Envíos", "horario"}
    # The state is kept in the user's config directory (XDG_CONFIG_HOME here), never in the working directory.
    assert (tmp_path / "config" / "centralita" / "ingest-state.json").exists()
    assert not list(tmp_path.glob(".centralita-ingest*"))


def test_failures_are_listed_without_stopping_the_batch(server: str, run: Run, tmp_path: Path) -> None:
    agent = new_agent(server)
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "a-empty.txt").write_text("   ")
    (folder / "b-good.md").write_text("# Hola\n\nTexto útil.\n")

    result = run("ingest", str(folder), "--agent", str(agent), "--server", server)
    assert result.returncode == 1
    assert "1 added, 0 replaced, 0 unchanged, 1 failed" in result.stdout
    assert "a-empty.txt" in result.stdout and "empty_document" in result.stdout
    assert [d["title"] for d in documents(server, agent)] == ["Hola"]


def test_an_unknown_agent_or_an_unreachable_server_has_its_own_exit_code(
    server: str, run: Run, tmp_path: Path
) -> None:
    (tmp_path / "one.txt").write_text("uno")
    missing = run("ingest", "one.txt", "--agent", "424242", "--server", server)
    assert missing.returncode == 5 and "agent_not_found" in missing.stderr
    down = run("ingest", "one.txt", "--agent", "1", "--server", "http://127.0.0.1:9")
    assert down.returncode == 3 and "centralita serve" in down.stderr
