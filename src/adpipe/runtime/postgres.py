"""A private Postgres cluster under a state folder: initdb once, then pg_ctl start/stop on loopback.

Uses the system's binaries when present, else the ones bundled in the `pgserver` package. The
cluster always lives inside the state folder, so deleting that folder deletes it; as root, the
unprivileged account Postgres runs as is let through the folders above it (`access`).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import os
import pwd
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TypedDict

import msgspec

from adpipe.errors import AdpipeError
from adpipe.runtime.access import AccessError, Account, open_path
from adpipe.runtime.ports import LOOPBACK, choose_port
from adpipe.runtime.server import EmbeddedServer

SUPERUSER = "adpipe"
SERVICE_USER = "adpipe-pg"
# Unix socket paths must fit sockaddr_un.sun_path (108 bytes with the NUL).
MAX_SOCKET_PATH = 107
_FAST_SETTINGS = ("fsync=off", "synchronous_commit=off", "full_page_writes=off")
# `adpipe up` runs a process per role replica, each with its own pool (up to pool_max_size),
# LISTEN connection and relay lock: Postgres' default of 100 runs out at a few replicas.
MAX_CONNECTIONS = 300
# For the memory of a single machine's stack (bench/pipeline.py measures it):
# - shared_buffers far below initdb's 128 MB. A backend's resident set counts every page of
#   shared buffers it has touched, and blob chunks (downloads, renders) sweep through all of
#   them, so each long-lived connection came to carry most of the 128 MB: ~1.9 GB of RSS over
#   the stack's ~47 Postgres processes at the peak, for pages the OS page cache holds anyway (a
#   miss here is a copy from the page cache, not a disk read). The hot pages — the log's tail,
#   checkpoints, read models of the jobs in flight — fit in 8 MB: bench/load.py's creates and
#   storyboards were no slower than with 16 MB in the same run, and ~45 backends took ~4 MB
#   less RSS each than with 16 MB. A Postgres of your own (DATABASE_URL) keeps its own config.
#   Huge pages would keep shared memory out of RSS too, but need pages the kernel has reserved,
#   which a default cannot count on (huge_pages stays at `try`).
# - no logical replication launcher: nothing here replicates, and it is a process of its own.
_MEMORY_SETTINGS = ("shared_buffers=8MB", "max_logical_replication_workers=0")
_REQUIRED_BINARIES = ("initdb", "pg_ctl", "postgres")


class EmbeddedPostgresError(AdpipeError, RuntimeError):
    """The embedded Postgres could not be set up, started or stopped."""


class _Account(TypedDict, total=False):
    """The subprocess arguments that make a command run as the service account."""

    env: dict[str, str]
    cwd: str
    user: int
    group: int
    extra_groups: list[int]


class RunAs(msgspec.Struct, frozen=True, kw_only=True):
    """The unprivileged account Postgres runs as when adpipe itself runs as root."""

    name: str
    uid: int
    gid: int


def candidate_bin_dirs() -> list[Path]:
    """Where to look for Postgres binaries, best first: PATH, /usr/lib/postgresql, pgserver."""
    dirs: list[Path] = []
    on_path = shutil.which("pg_ctl")
    if on_path:
        dirs.append(Path(on_path).resolve().parent)
    versioned = [p for p in Path("/usr/lib/postgresql").glob("*/bin") if p.parent.name.isdigit()]
    dirs.extend(sorted(versioned, key=lambda p: int(p.parent.name), reverse=True))
    # Locate pgserver without importing it: its import pulls in unrelated machinery.
    spec = importlib.util.find_spec("pgserver")
    if spec is not None and spec.origin is not None:
        dirs.append(Path(spec.origin).parent / "pginstall" / "bin")
    return [d for d in dict.fromkeys(dirs) if _is_complete(d)]


def server_major_version(bin_dir: Path) -> int:
    """The major version of the `postgres` binary in `bin_dir` (e.g. 15 for 15.18)."""
    out = subprocess.run(
        [str(bin_dir / "postgres"), "-V"], capture_output=True, text=True, check=True, timeout=30
    ).stdout
    match = re.search(r"\)\s+(\d+)", out)
    if match is None:
        raise EmbeddedPostgresError(f"cannot read the version of {bin_dir / 'postgres'}: {out!r}")
    return int(match.group(1))


def find_bin_dir(cluster_major: int | None = None) -> Path:
    """The best Postgres bin dir; for an existing cluster, the best one of its major version."""
    candidates = candidate_bin_dirs()
    if cluster_major is not None:
        candidates = [d for d in candidates if server_major_version(d) == cluster_major]
    if not candidates:
        wanted = f"Postgres {cluster_major} " if cluster_major is not None else "Postgres "
        raise EmbeddedPostgresError(
            f"no {wanted}binaries found (looked on PATH, in /usr/lib/postgresql/*/bin and in "
            "the pgserver package); install postgresql or `pip install pgserver`"
        )
    return candidates[0]


def choose_run_as(
    euid: int,
    cluster: Path,
    lookup: Callable[[str], pwd.struct_passwd] = pwd.getpwnam,
    create_user: Callable[[str], None] | None = None,
) -> RunAs | None:
    """Who runs Postgres: None means the current user; root hands it to an unprivileged account.

    Postgres refuses to run as root. An existing cluster keeps its owner (the server must run as
    the owner of its files); otherwise prefer the distribution's `postgres` account and create a
    dedicated system account when there is none.
    """
    if euid != 0:
        return None
    try:
        owner = cluster.stat()
    except FileNotFoundError:
        pass
    else:
        if owner.st_uid != 0:
            try:
                name = pwd.getpwuid(owner.st_uid).pw_name
            except KeyError:
                name = str(owner.st_uid)
            return RunAs(name=name, uid=owner.st_uid, gid=owner.st_gid)
    for name in ("postgres", SERVICE_USER):
        try:
            entry = lookup(name)
        except KeyError:
            continue
        return RunAs(name=name, uid=entry.pw_uid, gid=entry.pw_gid)
    (create_user or _create_system_user)(SERVICE_USER)
    entry = lookup(SERVICE_USER)
    return RunAs(name=SERVICE_USER, uid=entry.pw_uid, gid=entry.pw_gid)


def _create_system_user(name: str) -> None:
    result = subprocess.run(
        [
            "useradd",
            "--system",
            "--no-create-home",
            "--user-group",
            "--shell",
            "/usr/sbin/nologin",
            name,
        ],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    # 9 means the account appeared meanwhile (another process created it): fine.
    if result.returncode not in (0, 9):
        raise EmbeddedPostgresError(f"cannot create system user {name}: {result.stderr.strip()}")


def _is_complete(bin_dir: Path) -> bool:
    return all(os.access(bin_dir / name, os.X_OK) for name in _REQUIRED_BINARIES)


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


class EmbeddedPostgres(EmbeddedServer):
    """One Postgres cluster living under `data_dir`; data and the chosen port survive restarts.

    Layout of `data_dir`: `cluster/` (PGDATA), `postgres.log`, `port`. When adpipe runs as
    root, `data_dir` belongs to the service account and the folders above it that the account
    could not pass through get a search-only ACL entry for it; so do those above the binaries.
    """

    def __init__(
        self,
        data_dir: Path,
        port: int | None = None,
        *,
        fast: bool = False,
        bin_dir: Path | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.data_dir = Path(data_dir).absolute()
        self.requested_port = port
        self.fast = fast
        self.bin_dir = bin_dir
        self.timeout = timeout
        self.port: int | None = None
        self.run_as: RunAs | None = None
        self._home: Path | None = None
        self._opened = False

    # -- public API ------------------------------------------------------------------------

    def start(self) -> str:
        """Start (initialising on first use) and return the conninfo URL of database `postgres`.

        Calling it while the cluster already runs, from this or an earlier process, just
        returns the URL of the running server.
        """
        home = self._prepare_home()
        cluster, log = home / "cluster", home / "postgres.log"
        if not (cluster / "PG_VERSION").exists():
            self._initdb(cluster)
        running_port = self._running_port(cluster)
        if running_port is not None:
            self.port = running_port
            return self.url()
        port = choose_port(self.requested_port, self.data_dir / "port")
        (self.data_dir / "port").write_text(f"{port}\n")
        options = [f"-p {port}", f"-c listen_addresses={LOOPBACK}"]
        options.append(f"-k {shlex.quote(str(self._socket_dir(cluster, port)))}")
        options.append("-c unix_socket_permissions=0700")
        options.append(f"-c max_connections={MAX_CONNECTIONS}")
        options.extend(f"-c {setting}" for setting in _MEMORY_SETTINGS)
        if self.fast:
            options.extend(f"-c {setting}" for setting in _FAST_SETTINGS)
        self._pg_ctl(
            cluster,
            ["-w", "-t", str(int(self.timeout)), "-l", str(log), "-o", " ".join(options), "start"],
            what=f"start Postgres on {LOOPBACK}:{port}",
            log=log,
            # Own session: a Ctrl-C aimed at `adpipe up` must not stop Postgres before the
            # supervisor has drained the processes that still need it.
            new_session=True,
        )
        self.port = port
        return self.url()

    def stop(self) -> None:
        """Stop the server if it runs (fast shutdown: open sessions are rolled back)."""
        cluster = self._cluster_path()
        port = None if cluster is None else self._running_port(cluster)
        if cluster is None or port is None:
            return
        self._pg_ctl(
            cluster,
            ["-w", "-t", str(int(self.timeout)), "-m", "fast", "stop"],
            what="stop Postgres",
            log=cluster.parent / "postgres.log",
        )
        if (socket_dir := self._socket_dir(cluster, port)) != cluster:
            # Postgres removed its socket; the short folder under /tmp is ours to tidy.
            with contextlib.suppress(OSError):
                socket_dir.rmdir()

    @property
    def is_running(self) -> bool:
        cluster = self._cluster_path()
        return cluster is not None and self._running_port(cluster) is not None

    def url(self, dbname: str = "postgres") -> str:
        """The libpq conninfo URL of `dbname` on this server (started or not yet: last port)."""
        if self.port is None:
            raise EmbeddedPostgresError("Postgres has not been started, so it has no port yet")
        return f"postgresql://{SUPERUSER}@{LOOPBACK}:{self.port}/{dbname}"

    # -- layout and accounts -----------------------------------------------------------------

    def _cluster_path(self) -> Path | None:
        """The existing cluster folder (resolved), or None before the first start."""
        link = self.data_dir / "cluster"
        if not link.exists():
            return None
        self._prepare_home()
        return link.resolve()

    def _prepare_home(self) -> Path:
        """Create the folder holding cluster and log, owned by whoever runs Postgres."""
        if self._home is not None:
            return self._home
        self.data_dir.mkdir(parents=True, exist_ok=True)
        link = self.data_dir / "cluster"
        self.run_as = choose_run_as(os.geteuid(), link.resolve())
        # A cluster an older adpipe relocated (a symlink out of the state folder) stays usable.
        home = link.resolve().parent if link.is_symlink() else self.data_dir
        if self.run_as is not None:
            os.chown(home, self.run_as.uid, self.run_as.gid)
            home.chmod(0o700)
        self._home = home
        return home

    def _open_paths(self, binary: Path) -> None:
        """As root: let the service account through to the cluster and to the binaries.

        Checked before every command, not once: a chmod of a folder above (pytest resets its
        base folder to 0700 at each session start) clears an ACL's mask, and `pg_ctl stop`
        then could not see the server it has to stop. A check is a stat and a getxattr per
        folder; only a change is verified with a command run as the account.
        """
        if self.run_as is None:
            return
        account = Account(
            uid=self.run_as.uid,
            gid=self.run_as.gid,
            groups=frozenset(os.getgrouplist(self.run_as.name, self.run_as.gid))
            if not self.run_as.name.isdigit()
            else frozenset(),
        )
        home = self._home if self._home is not None else self.data_dir
        changed = []
        # The installation root too: postgres finds its lib/ and share/ beside its bin/.
        for target in (home.parent, binary.parent.parent, binary.parent):
            try:
                changed += open_path(target, account)
            except AccessError as error:
                raise EmbeddedPostgresError(error.detail) from error
        if self._opened and not changed:
            return
        for target in (home, binary.parent):
            if not self._reachable(target):
                raise EmbeddedPostgresError(
                    f"the account {self.run_as.name} (uid {self.run_as.uid}) that runs Postgres "
                    f"cannot reach {target}; put the project and ADPIPE_HOME in folders it can "
                    "enter, or run adpipe as a regular user"
                )
        self._opened = True

    def _reachable(self, path: Path) -> bool:
        """Whether the service account can traverse every folder down to and into `path`."""
        try:
            result = subprocess.run(
                ["test", "-x", str(path)], check=False, timeout=30, **self._account_kwargs()
            )
        except OSError:  # cannot even enter its working folder
            return False
        return result.returncode == 0

    def _socket_dir(self, cluster: Path, port: int) -> Path:
        """The cluster folder, or a short private folder under /tmp when that path is too long."""
        if len(str(cluster / f".s.PGSQL.{port}.lock")) <= MAX_SOCKET_PATH and re.fullmatch(
            r"[\w./-]+", str(cluster)
        ):
            return cluster
        digest = hashlib.sha256(str(cluster).encode()).hexdigest()[:12]
        short = Path(tempfile.gettempdir()) / f"adpipe-pg-{digest}"
        short.mkdir(mode=0o700, exist_ok=True)
        if self.run_as is not None:
            os.chown(short, self.run_as.uid, self.run_as.gid)
        if short.stat().st_uid != (self.run_as.uid if self.run_as else os.geteuid()):
            raise EmbeddedPostgresError(f"socket folder {short} belongs to another user")
        return short

    # -- commands ------------------------------------------------------------------------------

    def _binaries(self, cluster: Path) -> Path:
        if self.bin_dir is None:
            version_file = cluster / "PG_VERSION"
            major = int(version_file.read_text()) if version_file.exists() else None
            self.bin_dir = find_bin_dir(major)
        return self.bin_dir

    def _initdb(self, cluster: Path) -> None:
        # Into a side folder, renamed when complete: an initdb cut short (the process killed)
        # must not leave a half-made `cluster/` that every later start trips over.
        partial = cluster.with_name(cluster.name + ".initdb")
        if partial.exists():
            shutil.rmtree(partial)
        partial.mkdir(mode=0o700)
        if self.run_as is not None:
            os.chown(partial, self.run_as.uid, self.run_as.gid)
        args = ["-D", str(partial), "-U", SUPERUSER, "-A", "trust", "--no-locale", "-E", "UTF8"]
        if self.fast:
            args.append("--no-sync")
        self._run("initdb", args, what=f"initialise a Postgres cluster in {cluster}")
        if cluster.is_dir() and not any(cluster.iterdir()):
            cluster.rmdir()  # an empty folder an older adpipe made before its initdb
        partial.rename(cluster)

    def _running_port(self, cluster: Path) -> int | None:
        """The port of the server running on `cluster`, or None when none runs."""
        status = self._run("pg_ctl", ["-D", str(cluster), "status"], what="", check=False)
        if status.returncode != 0:
            return None
        # postmaster.pid: pid, data dir, start time, port, socket dir, listen address, …
        lines = (cluster / "postmaster.pid").read_text().splitlines()
        return int(lines[3])

    def _pg_ctl(
        self, cluster: Path, args: list[str], *, what: str, log: Path, new_session: bool = False
    ) -> None:
        try:
            self._run("pg_ctl", ["-D", str(cluster), *args], what=what, new_session=new_session)
        except EmbeddedPostgresError as error:
            raise EmbeddedPostgresError(
                f"{error.detail}\n--- last lines of {log} ---\n{_log_tail(log)}"
            ) from error

    def _run(
        self,
        tool: str,
        args: list[str],
        *,
        what: str,
        check: bool = True,
        new_session: bool = False,
    ) -> subprocess.CompletedProcess[str]:
        # Output goes to temporary files, not pipes: a postmaster forked by pg_ctl could
        # otherwise inherit the pipe and keep us waiting for EOF.
        cluster = self.data_dir / "cluster"
        binary = self._binaries(cluster.resolve()) / tool
        self._open_paths(binary)
        with tempfile.TemporaryFile("w+") as out:
            try:
                result = subprocess.run(
                    [str(binary), *args],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    text=True,
                    timeout=self.timeout + 10,
                    check=False,
                    start_new_session=new_session,
                    **self._account_kwargs(),
                )
            except subprocess.TimeoutExpired as error:
                raise EmbeddedPostgresError(f"could not {what}: timed out") from error
            out.seek(0)
            result.stdout = out.read()
        if check and result.returncode != 0:
            raise EmbeddedPostgresError(
                f"could not {what}: {tool} exited with {result.returncode}\n{result.stdout}"
            )
        return result

    def _account_kwargs(self) -> _Account:
        """subprocess arguments that run a command as the service account, if there is one."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        if self.run_as is None:
            return {"env": env}
        home = self._home if self._home is not None else Path("/")
        env["HOME"] = str(home)
        # cwd: the service account may not be allowed into root's working directory.
        return {
            "env": env,
            "cwd": str(home),
            "user": self.run_as.uid,
            "group": self.run_as.gid,
            "extra_groups": [],
        }
