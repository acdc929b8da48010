"""`centralita atlas create-index`: the definition it would create, and a clear refusal without Atlas."""

from __future__ import annotations

import json

from tests.cli.conftest import Run


def test_print_shows_the_index_definition_for_the_atlas_ui(run: Run) -> None:
    result = run(
        "atlas", "create-index", "--print", "--dimensions", "384", env={"ATLAS_INDEX_NAME": "kb_index"}
    )
    assert result.returncode == 0, result.stderr
    index = json.loads(result.stdout)
    assert (index["name"], index["type"], index["collection"]) == (
        "kb_index",
        "vectorSearch",
        "knowledge_chunks",
    )
    vector, *filters = index["definition"]["fields"]
    assert (vector["path"], vector["numDimensions"], vector["similarity"]) == ("embedding", 384, "cosine")
    assert {f["path"] for f in filters} == {"agent_id", "document_id"}


def test_without_mongodb_uri_it_says_what_to_set(run: Run) -> None:
    result = run("atlas", "create-index", "--dimensions", "384")
    assert result.returncode == 2 and "MONGODB_URI" in result.stderr
