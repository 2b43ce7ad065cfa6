"""Voice engine fixtures: the offline engine's worker is stopped after the tests, and the cloud
engine talks to the scripted provider on 127.0.0.1 through `OPENAI_BASE_URL`, as an operator
would point it at a proxy."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest

# Before anything can import litellm: never fetch its price list from the internet.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

from adpipe.services.voice.engine import close
from testkit.speech_provider import FakeSpeechProvider, serve


@pytest.fixture(scope="module", autouse=True)
def stop_the_espeak_worker() -> Iterator[None]:
    yield
    close()


@pytest.fixture
async def provider(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeSpeechProvider]:
    async with serve() as fake:
        monkeypatch.setenv("OPENAI_BASE_URL", fake.url)
        monkeypatch.delenv("OPENAI_API_BASE", raising=False)
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        yield fake
