"""Settings in one place: every tunable documented, read from its variable, and the README's
table is what `Settings` says today."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from adpipe.settings import (
    SECTIONS,
    VARIABLES,
    PlannerSettings,
    Settings,
    WebhookConfig,
    load_settings,
)
from adpipe.settings_table import block, in_readme, rows, table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_the_readme_table_is_generated_from_settings() -> None:
    assert in_readme(README.read_text()) == block(), (
        "README.md's settings table is stale: run `adpipe settings table --write`"
    )


def test_every_tunable_has_a_reason_and_a_row() -> None:
    listed = rows()
    assert all(row.reason for row in listed), [r.variable for r in listed if not r.reason]
    variables = [row.variable for row in listed if row.variable != "(code only)"]
    assert len(variables) == len(set(variables))
    nested = sum(len(msgspec.structs.fields(section)) for _, section in SECTIONS.values())
    top = len(msgspec.structs.fields(Settings)) - len(SECTIONS)
    # ADPIPE_LLM_MODEL is both llm_model and the planner's model, so it is listed once.
    assert len(listed) == top + nested - 1
    assert "| `ADPIPE_SERVICE_DRAIN_SECONDS` | `10` |" in table()


def test_a_field_is_read_from_the_variable_the_table_names() -> None:
    """Each ADPIPE_<NAME> row of a plain number or text field really sets that field."""
    env: dict[str, str] = {}
    expected: dict[str, object] = {}
    for field in msgspec.structs.fields(Settings):
        if field.name in VARIABLES or field.name in SECTIONS:
            continue
        if field.type in (int, float):
            env[f"ADPIPE_{field.name.upper()}"] = "7"
            expected[field.name] = 7
    settings = load_settings(env)
    assert {name: getattr(settings, name) for name in expected} == expected


def test_the_webhook_section_reads_adpipe_webhook_variables() -> None:
    env = {"ADPIPE_WEBHOOK_RETRY_SCHEDULE": "1, 2,3", "ADPIPE_WEBHOOK_CONCURRENCY_PER_USER": "2"}
    settings = load_settings({**env, "ADPIPE_WEBHOOK_LEASE_SECONDS": "90"})
    assert settings.webhooks == WebhookConfig(
        retry_schedule=(1.0, 2.0, 3.0), concurrency_per_user=2, lease_seconds=90.0
    )
    assert load_settings({}).webhooks == WebhookConfig()


def test_the_planner_section_reads_adpipe_llm_variables() -> None:
    env = {"ADPIPE_LLM_TIMEOUT_SECONDS": "12.5", "ADPIPE_LLM_MODEL": "openai/gpt-4o-mini"}
    settings = load_settings({**env, "ADPIPE_RETRY_BACKOFF_SECONDS": "2,4"})
    assert settings.planner == PlannerSettings(model="openai/gpt-4o-mini", timeout_seconds=12.5)
    assert settings.llm_model == "openai/gpt-4o-mini"
    assert settings.retry_backoff_seconds == (2.0, 4.0)


def test_a_webhook_setting_that_does_not_parse_names_its_variable() -> None:
    with pytest.raises(ValueError, match="ADPIPE_WEBHOOK_CONCURRENCY='many'"):
        load_settings({"ADPIPE_WEBHOOK_CONCURRENCY": "many"})
