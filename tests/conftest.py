"""Root fixtures: a real Postgres and a real nats-server, started once per session on loopback.

`database_url` hands each test a fresh, migrated database; `nats_url` a running server with no
JetStream streams left over from earlier tests. Nothing has to be running beforehand.
"""

from __future__ import annotations

import os
import random
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import psycopg
import pytest

from adpipe.runtime.nats import EmbeddedNats
from adpipe.runtime.postgres import EmbeddedPostgres
from adpipe.storage.migrations import apply_migrations
from testkit.servers import clean_nats, fresh_database

# Set before any test module can import litellm: never fetch its price map from the internet.
os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
# Tools find a stack's files (the chain key, say) in ADPIPE_HOME, by default ./.adpipe: a
# developer's own `make run` beside the checkout must not leak into the tests.
os.environ["ADPIPE_HOME"] = tempfile.mkdtemp(prefix="adpipe-test-home-")
for _name in ("ADPIPE_CHAIN_KEY", "ADPIPE_CHAIN_KEY_FILE"):
    os.environ.pop(_name, None)

TEMPLATE_DB = "adpipe_template"
SCRATCH_PREFIX = "adpipe-test-"


def _scratch_root() -> Path:
    """tmpfs when it has room, else the temp folder. Cloning the template opens ~1,200 files,
    which takes 250 ms on a slow VM disk and 10 ms in RAM; that is per test using a database."""
    override = os.environ.get("ADPIPE_TEST_SCRATCH_ROOT")
    if override:
        return Path(override)
    shm = Path("/dev/shm")
    try:
        roomy = shutil.disk_usage(shm).free >= 2 * 2**30
    except OSError:
        roomy = False
    return shm if roomy and os.access(shm, os.W_OK | os.X_OK) else Path(tempfile.gettempdir())


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap_abandoned_scratch(root: Path) -> None:
    """Stop and delete the servers of earlier sessions killed before their teardown ran (say by
    `timeout`): their clusters sit in RAM and would pile up."""
    for folder in root.glob(f"{SCRATCH_PREFIX}*"):
        try:
            owner = int((folder / "owner.pid").read_text())
        except (OSError, ValueError):
            continue  # not ours, or a session still setting it up
        if folder.stat().st_uid != os.geteuid() or _process_alive(owner):
            continue
        EmbeddedPostgres(folder / "pg").stop()
        EmbeddedNats(folder / "nats").stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def _scratch() -> Iterator[Path]:
    """This session's folder for the servers' data, removed at the end."""
    # Not tmp_path_factory: as root, pytest's 0700 base folder is out of reach of the account
    # Postgres runs as, which would push the cluster out to /var/lib.
    root = _scratch_root()
    _reap_abandoned_scratch(root)
    folder = Path(tempfile.mkdtemp(prefix=SCRATCH_PREFIX, dir=root))
    folder.chmod(0o755)  # the cluster inside stays 0700
    (folder / "owner.pid").write_text(f"{os.getpid()}\n")
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="session")
def pg_server(_scratch: Path) -> Iterator[EmbeddedPostgres]:
    """One throwaway cluster for the session, durability traded for speed (fsync off)."""
    server = EmbeddedPostgres(_scratch / "pg", fast=True)
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
async def template_database(pg_server: EmbeddedPostgres) -> str:
    """Name of a migrated database that every test database is cloned from."""
    async with await psycopg.AsyncConnection.connect(pg_server.url(), autocommit=True) as conn:
        await conn.execute(f"CREATE DATABASE {TEMPLATE_DB}")
    await apply_migrations(pg_server.url(TEMPLATE_DB))
    async with await psycopg.AsyncConnection.connect(pg_server.url(), autocommit=True) as conn:
        # Cloning fails while anyone is connected to the template; forbidding connections
        # keeps a stray test from breaking every later one.
        await conn.execute(f"ALTER DATABASE {TEMPLATE_DB} WITH ALLOW_CONNECTIONS false")
    return TEMPLATE_DB


@pytest.fixture
async def database_url(pg_server: EmbeddedPostgres, template_database: str) -> AsyncIterator[str]:
    """URL of a fresh migrated database for this test alone, dropped afterwards."""
    async with fresh_database(pg_server, template_database) as url:
        yield url


@pytest.fixture(scope="session")
def nats_server(_scratch: Path) -> Iterator[EmbeddedNats]:
    """One nats-server for the session; tests may stop and start it (the port stays)."""
    server = EmbeddedNats(_scratch / "nats")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture
async def nats_url(nats_server: EmbeddedNats) -> str:
    """URL of the running session server, with every JetStream stream of earlier tests gone."""
    return await clean_nats(nats_server)  # an earlier test may have stopped it, too


@pytest.fixture
def rng() -> random.Random:
    """A seeded random generator; the seed is printed (shown on failure) and can be replayed
    with ADPIPE_TEST_SEED=<seed>."""
    seed = int(os.environ.get("ADPIPE_TEST_SEED") or random.randrange(2**32))
    print(f"random seed: {seed} (replay with ADPIPE_TEST_SEED={seed})")
    return random.Random(seed)
