"""`centralita atlas create-index`: the Atlas Vector Search index that VECTOR_SEARCH=atlas searches."""

from __future__ import annotations

import json
import sys

import typer

from entrypoints.cli.common import ExitCode, console, fail

app = typer.Typer(help="MongoDB Atlas operations.", no_args_is_help=True)


@app.command("create-index")
def create_index(
    dimensions: int | None = typer.Option(
        None,
        min=1,
        help="Vector length (default: the configured EMBEDDINGS_MODEL's, measured by loading it).",
    ),
    wait: float = typer.Option(120, min=0, help="Seconds to wait until Atlas reports the index queryable."),
    print_only: bool = typer.Option(
        False, "--print", help="Print the index definition JSON (for the Atlas UI) and change nothing."
    ),
) -> None:
    """Create the vector search index on MONGODB_DB's `knowledge_chunks` collection in Atlas.

    Reads MONGODB_URI, MONGODB_DB, ATLAS_INDEX_NAME and EMBEDDINGS_MODEL from the environment or .env.
    Exit code 0 when the index exists (created now or before), 1 when Atlas refused, 3 when unreachable.
    """
    from entrypoints.settings import Settings

    settings = Settings()
    try:  # the knowledge adapter's function: imported lazily, it pulls in langchain-mongodb
        from adapters.knowledge.atlas import chunks_collection, create_atlas_index, index_definition
    except ImportError as error:
        fail(f"this build has no Atlas index support ({error}).", ExitCode.FAILED)
    if dimensions is None:
        from adapters.langchain.embeddings import LangChainEmbedder

        dimensions = LangChainEmbedder.from_setting(settings.embeddings_model).dimensions
    definition = {
        "name": settings.atlas_index_name,
        "type": "vectorSearch",
        "collection": "knowledge_chunks",
        "definition": index_definition(dimensions),
    }
    if print_only:
        sys.stdout.write(json.dumps(definition, indent=2) + "\n")
        return
    if settings.mongodb_uri is None:
        fail(
            "MONGODB_URI is not set.",
            ExitCode.USAGE,
            "set MONGODB_URI to your Atlas cluster's connection string.",
        )
    from pymongo.errors import OperationFailure, PyMongoError

    collection = chunks_collection(settings.mongodb_uri.get_secret_value(), settings.mongodb_db)
    try:
        existing = [i.get("name") for i in collection.list_search_indexes()]
        if settings.atlas_index_name in existing:
            console.print(
                f"[green]✔[/] the index {settings.atlas_index_name} already exists on {settings.mongodb_db}.knowledge_chunks."
            )
            return
        if "knowledge_chunks" not in collection.database.list_collection_names():
            collection.database.create_collection("knowledge_chunks")
        with console.status(f"creating {settings.atlas_index_name} ({dimensions} dimensions)…"):
            create_atlas_index(collection, dimensions, settings.atlas_index_name, wait_seconds=wait or None)
    except OperationFailure as error:
        fail(
            f"Atlas refused: {error.details.get('errmsg') if error.details else error}",
            ExitCode.FAILED,
            "check the cluster is Atlas (M0+ or a local Atlas deployment) and the user may create search indexes.",
        )
    except PyMongoError as error:
        fail(
            f"cannot reach MongoDB ({type(error).__name__}).",
            ExitCode.UNREACHABLE,
            "check MONGODB_URI and the network access list.",
        )
    except TimeoutError:
        fail(
            f"the index was created but not queryable within {wait:g} s.",
            ExitCode.FAILED,
            "wait, then run `centralita doctor`.",
        )
    finally:
        collection.database.client.close()
    console.print(
        f"[green]✔[/] index {settings.atlas_index_name} created on {settings.mongodb_db}.knowledge_chunks ({dimensions} dimensions)."
    )
