"""The embedded Postgres and nats-server: start, restart, fail clearly; and the root fixtures."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import nats
import psycopg
import pytest

from adpipe.runtime.nats import EmbeddedNats, EmbeddedNatsError
from adpipe.runtime.postgres import (
    SERVICE_USER,
    EmbeddedPostgres,
    EmbeddedPostgresError,
    RunAs,
    candidate_bin_dirs,
    choose_run_as,
    find_bin_dir,
    server_major_version,
)
from adpipe.storage.migrations import migration_files

IS_ROOT = os.geteuid() == 0


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder under /tmp that any account can reach (unlike pytest's 0700 tmp_path as root)."""
    folder = Path(tempfile.mkdtemp(prefix="adpipe-embedded-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def _passwd(name: str, uid: int) -> pwd.struct_passwd:
    return pwd.struct_passwd((name, "x", uid, uid, "", "/nonexistent", "/usr/sbin/nologin"))


# -- who runs Postgres ---------------------------------------------------------------------


def test_a_non_root_user_runs_postgres_itself(tmp_path: Path) -> None:
    def no_lookups(name: str) -> pwd.struct_passwd:
        raise AssertionError(f"looked up {name} although not root")

    assert choose_run_as(1000, tmp_path / "cluster", lookup=no_lookups) is None


def test_root_hands_postgres_to_the_postgres_account(tmp_path: Path) -> None:
    accounts = {"postgres": _passwd("postgres", 101)}
    chosen = choose_run_as(0, tmp_path / "cluster", lookup=lambda name: accounts[name])
    assert chosen == RunAs(name="postgres", uid=101, gid=101)


def test_root_creates_a_service_account_when_there_is_no_postgres_account(
    tmp_path: Path,
) -> None:
    accounts: dict[str, pwd.struct_passwd] = {}
    created: list[str] = []

    def create(name: str) -> None:
        created.append(name)
        accounts[name] = _passwd(name, 990)

    chosen = choose_run_as(0, tmp_path / "c", lookup=lambda n: accounts[n], create_user=create)
    assert created == [SERVICE_USER]
    assert chosen == RunAs(name=SERVICE_USER, uid=990, gid=990)


@pytest.mark.skipif(not IS_ROOT, reason="giving a folder to another owner needs root")
def test_root_runs_an_existing_cluster_as_its_owner(tmp_path: Path) -> None:
    cluster = tmp_path / "cluster"
    cluster.mkdir()
    os.chown(cluster, 65534, 65534)
    chosen = choose_run_as(0, cluster, lookup=lambda name: _passwd(name, 101))
    assert chosen is not None and (chosen.uid, chosen.gid) == (65534, 65534)


# -- binaries ------------------------------------------------------------------------------


def test_an_existing_cluster_gets_binaries_of_its_own_major_version() -> None:
    for bin_dir in candidate_bin_dirs():
        major = server_major_version(bin_dir)
        assert server_major_version(find_bin_dir(major)) == major
    with pytest.raises(EmbeddedPostgresError, match="no Postgres 99 binaries"):
        find_bin_dir(99)


# -- Postgres lifecycle ----------------------------------------------------------------------


def _insert_and_count(url: str, value: int) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS kept (value int)")
        conn.execute("INSERT INTO kept VALUES (%s)", [value])
        row = conn.execute("SELECT count(*) FROM kept").fetchone()
        assert row is not None
        return int(row[0])


@pytest.mark.parametrize("where", ["open folder", "private folder"])
def test_postgres_data_and_port_survive_a_restart(
    where: str, open_dir: Path, tmp_path: Path
) -> None:
    # As root, tmp_path sits in a 0700 folder the postgres account cannot enter: the cluster
    # must then live under relocate_root, linked from the data dir.
    data_dir = open_dir / "pg" if where == "open folder" else tmp_path / "pg"
    relocate_root = open_dir / "relocated"
    first = EmbeddedPostgres(data_dir, fast=True, relocate_root=relocate_root)
    try:
        url = first.start()
        assert url.startswith("postgresql://adpipe@127.0.0.1:")
        assert _insert_and_count(first.url("postgres"), 1) == 1
        assert first.start() == url, "a second start() on a running cluster reuses it"
        first.stop()
        assert not first.is_running
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(url, connect_timeout=2).close()

        second = EmbeddedPostgres(data_dir, relocate_root=relocate_root)
        assert second.start() == url, "the remembered port is reused when free"
        assert _insert_and_count(second.url(), 2) == 2
    finally:
        first.stop()
    relocated = where == "private folder" and IS_ROOT
    assert (data_dir / "cluster").is_symlink() == relocated
    assert relocate_root.exists() == relocated


def test_postgres_on_a_busy_port_fails_with_the_log_tail(open_dir: Path, busy_port: int) -> None:
    server = EmbeddedPostgres(open_dir / "pg", port=busy_port, fast=True)
    with pytest.raises(EmbeddedPostgresError, match="Address already in use"):
        server.start()
    assert not server.is_running


@pytest.mark.slow
def test_postgres_runs_from_pgserver_binaries_in_a_deep_folder(open_dir: Path) -> None:
    bundled = [d for d in candidate_bin_dirs() if "pgserver" in str(d)]
    if not bundled:
        pytest.skip("the pgserver package is not installed")
    # Deep enough that the socket path would pass the 107-byte limit inside the cluster folder.
    deep = open_dir / ("d" * 100) / "pg"
    with EmbeddedPostgres(deep, fast=True, bin_dir=bundled[0]) as server:
        with psycopg.connect(server.url()) as conn:
            row = conn.execute("SHOW unix_socket_directories").fetchone()
        assert row is not None and row[0].startswith(tempfile.gettempdir())
        assert Path(row[0]).is_dir()
    assert not Path(row[0]).exists(), "the short socket folder is removed on stop"


# -- the Postgres fixtures -------------------------------------------------------------------


def test_the_session_server_is_fast_and_listens_on_loopback_only(
    pg_server: EmbeddedPostgres,
) -> None:
    with psycopg.connect(pg_server.url()) as conn:
        settings = {
            name: conn.execute(f"SHOW {name}").fetchone()
            for name in ("fsync", "synchronous_commit", "listen_addresses")
        }
    assert settings == {
        "fsync": ("off",),
        "synchronous_commit": ("off",),
        "listen_addresses": ("127.0.0.1",),
    }


async def test_each_test_database_is_migrated(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute("SELECT name FROM schema_migrations ORDER BY name")
        applied = [row[0] for row in await cur.fetchall()]
    assert applied == [name for name, _ in migration_files()]


async def test_a_test_leaves_a_table_behind(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute("CREATE TABLE left_behind (x int)")
        # Left open on purpose: dropping the database must not wait for this connection.
        leaked = await psycopg.AsyncConnection.connect(database_url)
    await leaked.execute("SELECT 1")


async def test_the_next_test_does_not_see_it(database_url: str) -> None:
    async with await psycopg.AsyncConnection.connect(database_url) as conn:
        cur = await conn.execute("SELECT to_regclass('left_behind')")
        assert await cur.fetchone() == (None,)


# -- NATS lifecycle ------------------------------------------------------------------------------


async def test_jetstream_messages_survive_a_restart(tmp_path: Path) -> None:
    server = EmbeddedNats(tmp_path / "nats")
    try:
        url = server.start()
        assert url.startswith("nats://127.0.0.1:")
        client = await nats.connect(url)
        js = client.jetstream()
        await js.add_stream(name="KEPT", subjects=["kept.>"])
        for n in range(3):
            await js.publish("kept.thing", f"{n}".encode())
        await client.close()

        server.stop()
        assert not server.is_running
        restarted = EmbeddedNats(tmp_path / "nats")
        assert restarted.start() == url, "the port is kept across restarts"
        client = await nats.connect(url)
        info = await client.jetstream().stream_info("KEPT")
        message = await client.jetstream().get_msg("KEPT", seq=3)
        await client.close()
        restarted.stop()
    finally:
        server.stop()
    assert info.state.messages == 3
    assert message.data == b"2"


def test_a_second_launcher_adopts_a_running_server(tmp_path: Path) -> None:
    first = EmbeddedNats(tmp_path / "nats")
    second = EmbeddedNats(tmp_path / "nats")
    try:
        url = first.start()
        assert second.start() == url
        second.stop()
        assert not first.is_running
    finally:
        first.stop()


def test_nats_on_a_busy_port_fails_with_the_log_tail(tmp_path: Path, busy_port: int) -> None:
    server = EmbeddedNats(tmp_path / "nats", port=busy_port)
    with pytest.raises(EmbeddedNatsError, match="address already in use"):
        server.start()
    assert not server.is_running


# -- the NATS fixtures -----------------------------------------------------------------------------


async def test_a_test_leaves_a_stream_and_a_stopped_server(
    nats_url: str, nats_server: EmbeddedNats
) -> None:
    client = await nats.connect(nats_url)
    await client.jetstream().add_stream(name="LEFTOVER", subjects=["leftover.>"])
    await client.close()
    nats_server.stop()


async def test_the_next_test_gets_a_running_server_without_streams(nats_url: str) -> None:
    client = await nats.connect(nats_url)
    streams = await client.jsm().streams_info()
    await client.close()
    assert streams == []
