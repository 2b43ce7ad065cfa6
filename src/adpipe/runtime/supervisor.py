"""One OS process per role replica, restarted with capped exponential backoff when it dies.

A crash inside one role (FFmpeg in the renderer, say) takes only that process; the others and the
API keep running while it comes back. Children run in their own process groups so a Ctrl-C at the
terminal reaches the supervisor alone, which stops them in order: SIGTERM, a bounded wait, SIGKILL.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import msgspec

from adpipe.errors import ValidationFailed

from .leftovers import PidFiles
from .lifeline import SUPERVISOR_ENV

log = logging.getLogger(__name__)


class Role(msgspec.Struct, frozen=True, kw_only=True):
    """A role and how to run one process of it."""

    name: str
    argv: tuple[str, ...]
    replicas: int = 1
    pass_fds: tuple[int, ...] = ()


class Backoff(msgspec.Struct, frozen=True, kw_only=True):
    """Restart delays: `initial`, doubled per death in a row, at most `cap`; a process that ran
    `reset_after` seconds counts as healthy and starts the series again."""

    initial: float = 0.5
    cap: float = 30.0
    reset_after: float = 60.0

    def delay(self, deaths_in_a_row: int) -> float:
        if deaths_in_a_row <= 0:
            return 0.0
        return float(min(self.cap, self.initial * 2 ** min(deaths_in_a_row - 1, 30)))


def plan_roles(
    commands: Mapping[str, tuple[str, ...]],
    replicas: Mapping[str, int],
    *,
    api_fd: int | None = None,
) -> list[Role]:
    """The roles with their replica counts; a count for a role that does not exist is an error."""
    unknown = sorted(set(replicas) - set(commands))
    if unknown:
        names = ", ".join(f"ADPIPE_REPLICAS_{n.upper()}" for n in unknown)
        raise ValidationFailed(
            f"{names} names no role; the roles are: {', '.join(commands)}",
            [{"field": f"ADPIPE_REPLICAS_{n.upper()}", "message": "unknown role"} for n in unknown],
        )
    if replicas.get("api", 1) < 1:
        raise ValidationFailed(
            "ADPIPE_REPLICAS_API must be at least 1: adpipe up serves the API",
            [{"field": "ADPIPE_REPLICAS_API", "message": "at least 1"}],
        )
    roles = []
    for name, argv in commands.items():
        fds: tuple[int, ...] = ()
        if name == "api" and api_fd is not None:
            argv, fds = (*argv, "--fd", str(api_fd)), (api_fd,)
        roles.append(Role(name=name, argv=argv, replicas=replicas.get(name, 1), pass_fds=fds))
    return roles


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exited with code {code}"


class Supervisor:
    """Runs `command + role.argv` for every replica of every role until `stop` is set."""

    def __init__(
        self,
        roles: Sequence[Role],
        *,
        command: Sequence[str],
        env: Mapping[str, str],
        run_dir: Path,
        backoff: Backoff = Backoff(),
        grace: float = 15.0,
    ) -> None:
        self.roles = list(roles)
        self.command = list(command)
        self.env = {**env, SUPERVISOR_ENV: str(os.getpid())}
        self.pid_files = PidFiles(run_dir)
        self.backoff = backoff
        self.grace = grace
        self.processes: dict[str, asyncio.subprocess.Process] = {}
        self.restarts: dict[str, int] = {}

    def pids(self) -> dict[str, int]:
        """Label (`renderer.1`) -> pid of every process running now."""
        return {label: p.pid for label, p in self.processes.items() if p.returncode is None}

    async def run(self, stop: asyncio.Event, hurry: asyncio.Event) -> None:
        """Keep every replica running until `stop`; then stop them all (at once when `hurry`)."""
        async with asyncio.TaskGroup() as group:
            for role in self.roles:
                for index in range(1, role.replicas + 1):
                    label = role.name if role.replicas == 1 else f"{role.name}.{index}"
                    group.create_task(self._keep(role, label, stop, hurry), name=label)
        log.info("every role process has stopped")

    async def _keep(
        self, role: Role, label: str, stop: asyncio.Event, hurry: asyncio.Event
    ) -> None:
        deaths = 0
        while not stop.is_set():
            started = time.monotonic()
            try:
                process = await self._spawn(role, label)
            except OSError as error:
                log.error("cannot start %s: %s", label, error)
                code = None
            else:
                code = await self._wait_or_stop(process, label, stop, hurry)
            if stop.is_set():
                return
            ran = time.monotonic() - started
            deaths = 1 if ran >= self.backoff.reset_after else deaths + 1
            delay = self.backoff.delay(deaths)
            self.restarts[label] = self.restarts.get(label, 0) + 1
            log.warning(
                "%s %s after %.1f s; restarting in %.2f s",
                label,
                describe_exit(code) if code is not None else "could not start",
                ran,
                delay,
            )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(delay):
                    await stop.wait()

    async def _spawn(self, role: Role, label: str) -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            *self.command,
            *role.argv,
            env={**self.env, "ADPIPE_ROLE_LABEL": label},
            stdin=subprocess.DEVNULL,
            pass_fds=role.pass_fds,
            # Its own process group: a terminal's Ctrl-C must reach the supervisor only, which
            # then stops the roles itself, before NATS and Postgres.
            process_group=0,
        )
        self.processes[label] = process
        self.pid_files.record(label, process.pid)
        log.info("started %s (pid %d): adpipe %s", label, process.pid, " ".join(role.argv))
        return process

    async def _wait_or_stop(
        self,
        process: asyncio.subprocess.Process,
        label: str,
        stop: asyncio.Event,
        hurry: asyncio.Event,
    ) -> int:
        exited = asyncio.ensure_future(process.wait())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({exited, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not exited.done():
                await self._terminate(process, label, exited, hurry)
            return await exited
        except asyncio.CancelledError:
            # The supervisor itself is failing: leave no role running behind it.
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            raise
        finally:
            stopping.cancel()
            self.pid_files.forget(label)

    async def _terminate(
        self,
        process: asyncio.subprocess.Process,
        label: str,
        exited: asyncio.Future[int],
        hurry: asyncio.Event,
    ) -> None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        hurried = asyncio.ensure_future(hurry.wait())
        waiting: set[asyncio.Future[Any]] = {exited, hurried}
        try:
            await asyncio.wait(waiting, timeout=self.grace, return_when=asyncio.FIRST_COMPLETED)
        finally:
            hurried.cancel()
        if not exited.done():
            log.warning("%s (pid %d) did not stop in time: SIGKILL", label, process.pid)
            with contextlib.suppress(ProcessLookupError):
                process.kill()
