"""The sandbox and crash limits have defaults with reasons, and a deployment can set each one."""

from __future__ import annotations

import pytest

from adpipe.settings import Settings, load_settings


def test_the_defaults_bound_media_work_and_crashes() -> None:
    settings = load_settings({})
    assert settings.max_crashes == 2
    assert settings.handler_deadline_seconds == {
        "downloader": 900.0,
        "planner": 600.0,
        "renderer": 1800.0,
    }
    assert settings.media_max_frame_pixels < 15360 * 15360
    assert settings.media_max_image_pixels < 20000 * 20000
    assert settings.media_memory_bytes == 1536 * 2**20


def test_limits_are_read_from_the_environment() -> None:
    settings = load_settings(
        {
            "ADPIPE_MAX_CRASHES": "3",
            "ADPIPE_MEDIA_MEMORY_BYTES": "1073741824",
            "ADPIPE_MEDIA_MAX_DURATION_SECONDS": "90.5",
            "ADPIPE_HANDLER_DEADLINE_RENDERER": "3600",
            "ADPIPE_HANDLER_DEADLINE_PLANNER": "600",
        }
    )
    assert settings.max_crashes == 3
    assert settings.media_memory_bytes == 2**30
    assert settings.media_max_duration_seconds == 90.5
    assert settings.handler_deadline_seconds == {
        **Settings().handler_deadline_seconds,
        "renderer": 3600.0,
        "planner": 600.0,
    }


def test_a_limit_that_is_not_a_number_names_the_variable() -> None:
    with pytest.raises(ValueError, match="ADPIPE_MEDIA_MAX_FRAMES='lots'"):
        load_settings({"ADPIPE_MEDIA_MAX_FRAMES": "lots"})
