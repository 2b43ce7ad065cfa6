"""Sample media, generated once per session (see testkit.samples)."""

from __future__ import annotations

from pathlib import Path

import pytest

from testkit.samples import Samples, make_samples


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Samples:
    return make_samples(tmp_path_factory.mktemp("media-samples"))


@pytest.fixture
def dest_dir(tmp_path: Path) -> Path:
    """Where downloads land; tests check that nothing is left behind after a failure."""
    folder = tmp_path / "downloads"
    folder.mkdir()
    return folder
