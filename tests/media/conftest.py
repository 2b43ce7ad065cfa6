"""Sample media, generated once per session (see testkit.samples)."""

from __future__ import annotations

import pytest

from testkit.samples import Samples, make_samples


@pytest.fixture(scope="session")
def samples(tmp_path_factory: pytest.TempPathFactory) -> Samples:
    return make_samples(tmp_path_factory.mktemp("media-samples"))
