"""docs/configuration.md is generated from entrypoints/settings.py: this fails when the two drift apart."""

from __future__ import annotations

from entrypoints.cli.config_docs import DOC_PATH, configuration_markdown
from entrypoints.settings import Settings


def test_the_configuration_doc_matches_the_settings() -> None:
    assert DOC_PATH.read_text(encoding="utf-8") == configuration_markdown(), (
        "docs/configuration.md is out of date: run `centralita config-docs --write` and commit it."
    )


def test_every_setting_is_documented_with_a_description() -> None:
    undocumented = [name for name, field in Settings.model_fields.items() if not field.description]
    assert undocumented == []
    text = DOC_PATH.read_text(encoding="utf-8")
    for name in ("LLM_MODEL", "GROQ_API_KEY", "MONGODB_URI", "STORAGE", "VECTOR_SEARCH", "ADMIN_API_KEY"):
        assert f"`{name}`" in text
