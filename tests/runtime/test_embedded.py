"""The embedded Postgres and nats-server: start, restart, fail clearly; and the root fixtures."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import nats
import psycopg
import pytest

from adpipe.runtime.access import Account, may_search, read_acl
from adpipe.runtime.leftovers import start_time
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
from testkit.servers import clean_nats, fresh_database

IS_ROOT = os.geteuid() == 0


@pytest.fixture
def open_dir() -> Iterator[Path]:
    """A folder under /tmp that any account can reach (unlike pytest's 0700 tmp_path as root)."""
    folder = Path(tempfile.mkdtemp(prefix="adpipe-embedded-"))
    folder.chmod(0o755)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def private_dir() -> Iterator[Path]:
    """A 0700 folder, like `mktemp -d`; as root, the postgres account cannot enter it.

    Not tmp_path: pytest chmods its base folder at every session start, which would take
    away the access granted here while another session starts."""
    folder = Path(tempfile.mkdtemp(prefix="adpipe-private-"))
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
    where: str, open_dir: Path, private_dir: Path
) -> None:
    # As root, the postgres account cannot enter the private folder: it is let through (a
    # search-only ACL entry), and the cluster still lives inside the data dir.
    data_dir = open_dir / "pg" if where == "open folder" else private_dir / "pg"
    first = EmbeddedPostgres(data_dir, fast=True)
    try:
        url = first.start()
        assert url.startswith("postgresql://adpipe@127.0.0.1:")
        assert _insert_and_count(first.url("postgres"), 1) == 1
        assert first.start() == url, "a second start() on a running cluster reuses it"
        first.stop()
        assert not first.is_running
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(url, connect_timeout=2).close()

        second = EmbeddedPostgres(data_dir)
        assert second.start() == url, "the remembered port is reused when free"
        assert _insert_and_count(second.url(), 2) == 2
    finally:
        first.stop()
    cluster = data_dir / "cluster"
    assert cluster.is_dir() and not cluster.is_symlink()
    assert (cluster / "PG_VERSION").exists() and (data_dir / "postgres.log").exists()
    assert not (data_dir / "cluster.initdb").exists()


def test_postgres_stops_after_a_chmod_took_its_account_s_way_in(private_dir: Path) -> None:
    server = EmbeddedPostgres(private_dir / "pg", fast=True)
    server.start()
    postmaster = int((private_dir / "pg/cluster/postmaster.pid").read_text().split()[0])
    try:
        private_dir.chmod(0o700)  # what pytest does to its base folder at every session start
        server.stop()
        deadline = time.monotonic() + 10
        while start_time(postmaster) is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        stopped = start_time(postmaster) is None
    finally:
        if start_time(postmaster) is not None:  # never leave it running, pass or fail
            os.kill(postmaster, signal.SIGQUIT)
    assert stopped, "stop() did not see the server it had to stop"


def test_a_cut_short_initdb_leaves_nothing_the_next_start_trips_over(open_dir: Path) -> None:
    data_dir = open_dir / "pg"
    (data_dir / "cluster.initdb").mkdir(parents=True)
    (data_dir / "cluster.initdb" / "PG_VERSION").write_text("15\n")  # what a killed initdb left
    (data_dir / "cluster").mkdir()  # the empty folder older versions made before initdb
    with EmbeddedPostgres(data_dir, fast=True) as server:
        assert _insert_and_count(server.url(), 1) == 1


def test_postgres_on_a_busy_port_fails_with_the_log_tail(open_dir: Path, busy_port: int) -> None:
    server = EmbeddedPostgres(open_dir / "pg", port=busy_port, fast=True)
    with pytest.raises(EmbeddedPostgresError, match="Address already in use"):
        server.start()
    assert not server.is_running


def _pgserver_bin_dir() -> Path:
    bundled = [d for d in candidate_bin_dirs() if "pgserver" in str(d)]
    assert bundled, "the pgserver package (a dev dependency) is not installed"
    return bundled[0]


@pytest.mark.slow
def test_postgres_runs_from_pgserver_binaries_in_a_deep_folder(open_dir: Path) -> None:
    # Deep enough that the socket path would pass the 107-byte limit inside the cluster folder.
    deep = open_dir / ("d" * 100) / "pg"
    with EmbeddedPostgres(deep, fast=True, bin_dir=_pgserver_bin_dir()) as server:
        with psycopg.connect(server.url()) as conn:
            row = conn.execute("SHOW unix_socket_directories").fetchone()
        assert row is not None and row[0].startswith(tempfile.gettempdir())
        assert Path(row[0]).is_dir()
    assert not Path(row[0]).exists(), "the short socket folder is removed on stop"


def _linked_copy(source: Path, target: Path) -> None:
    """A tree of hard links: a copy of an installation in no time and no space."""
    for folder, _, files in os.walk(source):
        here = target / Path(folder).relative_to(source)
        here.mkdir(parents=True, exist_ok=True)
        shutil.copymode(folder, here)
        for name in files:
            os.link(Path(folder) / name, here / name, follow_symlinks=False)


@pytest.mark.slow
def test_postgres_runs_from_binaries_and_a_state_folder_behind_private_folders(
    private_dir: Path,
) -> None:
    """Like a project cloned by root into a `mktemp -d` folder, .venv and state folder inside."""
    project = private_dir / "project"
    project.mkdir(mode=0o700)
    # pgserver's binaries load their libraries from site-packages/pgserver.libs (RPATH $ORIGIN).
    installed = _pgserver_bin_dir().parents[2]
    site = project / ".venv" / "site-packages"
    for package in ("pgserver", "pgserver.libs"):
        _linked_copy(installed / package, site / package)
    (project / ".venv").chmod(0o700)
    state = project / ".adpipe" / "postgres"
    bin_dir = site / "pgserver" / "pginstall" / "bin"
    with EmbeddedPostgres(state, fast=True, bin_dir=bin_dir) as server:
        assert _insert_and_count(server.url(), 1) == 1
    assert (state / "cluster" / "PG_VERSION").exists()
    if IS_ROOT:
        assert server.run_as is not None
        account = Account(uid=server.run_as.uid, gid=server.run_as.gid)
        assert may_search(project, account) and may_search(project / ".venv", account)
        # Search only: the account can pass through, not list what is there.
        assert not read_acl_allows_listing(project, account)


def read_acl_allows_listing(folder: Path, account: Account) -> bool:
    entries = read_acl(folder) or []
    return any(e.id == account.uid and e.perm & 0o4 for e in entries)


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


async def test_a_database_a_test_leaves_behind_is_dropped_and_the_next_one_is_clean(
    pg_server: EmbeddedPostgres, template_database: str
) -> None:
    """What `database_url` does between two tests, run twice here so the order cannot matter."""
    async with fresh_database(pg_server, template_database) as first:
        async with await psycopg.AsyncConnection.connect(first, autocommit=True) as conn:
            await conn.execute("CREATE TABLE left_behind (x int)")
        # Left open on purpose: dropping the database must not wait for this connection.
        leaked = await psycopg.AsyncConnection.connect(first)
        await leaked.execute("SELECT 1")
    async with await psycopg.AsyncConnection.connect(pg_server.url()) as conn:
        cur = await conn.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [first.rsplit("/", 1)[1]]
        )
        assert await cur.fetchone() is None, "dropped despite the open connection"
    async with fresh_database(pg_server, template_database) as second:
        async with await psycopg.AsyncConnection.connect(second) as conn:
            cur = await conn.execute("SELECT to_regclass('left_behind')")
            assert await cur.fetchone() == (None,)
    with contextlib.suppress(psycopg.Error):
        await leaked.close()


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


async def test_a_stream_and_a_stopped_server_left_behind_are_cleaned_up_for_the_next_test(
    nats_server: EmbeddedNats,
) -> None:
    """What `nats_url` does between two tests, run twice here so the order cannot matter."""
    url = await clean_nats(nats_server)
    client = await nats.connect(url)
    await client.jetstream().add_stream(name="LEFTOVER", subjects=["leftover.>"])
    await client.close()
    nats_server.stop()

    client = await nats.connect(await clean_nats(nats_server))
    streams = await client.jsm().streams_info()
    await client.close()
    assert streams == []
