"""The service runtime: a durable JetStream pull consumer per service, run as its handler's job.

Handlers are idempotent (load the aggregate, decide, append with the expected version), so a
redelivered message finds its work done. Failures are retried with backoff by `nak(delay)`; when
the retries are spent — or the work crashed its process `max_crashes` times — the job gets a final
`job.failed` with the reason, so no job hangs silently. A handler past its deadline is stopped
(CPU-bound engines run in a sandboxed child, which stopping kills) and retried like a failure.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from nats.js.errors import NotFoundError

from adpipe.errors import AdpipeError, InvalidTransition
from adpipe.events.catalogue import Envelope, Metadata, decode_envelope
from adpipe.net.redact import redact_text
from adpipe.observability.collectors import JETSTREAM
from adpipe.observability.delivery import observed_handle

from .bus import ensure_stream
from .storage.attempts import AttemptJournal, Attempts, CrashedAttempt, PostgresAttemptJournal

if TYPE_CHECKING:
    from nats.aio.msg import Msg
    from nats.js import JetStreamContext

    from .settings import Settings
    from .storage.eventstore import EventStore

log = logging.getLogger(__name__)


class Retry(AdpipeError):
    """The work may succeed later (a provider is down, a dependency is not ready)."""

    def __init__(self, detail: str, delay: float | None = None) -> None:
        super().__init__(detail)
        self.delay = delay


class Deferred(AdpipeError):
    """The work cannot start now for a reason that is not its own (its user's fair share of the
    service is in use), and this delivery is not an attempt — with a journal, it counts neither
    towards max_deliver nor as a crash.

    Without `wake` the message goes back for `delay` seconds. With it, the message waits here
    (kept alive, holding no slot) until `wake` returns — the reason is gone: the work runs at
    once — or for at most `delay` seconds, when it goes back for any instance to take: JetStream
    cannot bring a message handed back with a delay any sooner."""

    def __init__(
        self, detail: str, delay: float, wake: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        super().__init__(detail)
        self.delay = delay
        self.wake = wake


class QuietSubscription(AdpipeError):
    """Fetches keep coming back empty although the consumer has messages to deliver."""


class Permanent(AdpipeError):
    """The work can never succeed (corrupt input, a refused URL): fail now, do not retry."""

    def __init__(self, detail: str, code: str = "failed") -> None:
        super().__init__(detail)
        self.code = code


class Crashed(AdpipeError):
    """The work crashed a process it ran in (a sandboxed child died by a signal). It counts
    like a crash of the service's own process: retried until `max_crashes`, then the job fails."""


@dataclass
class Delivery:
    """What a handler gets besides the event: which attempt this is, and a heartbeat."""

    envelope: Envelope
    attempt: int
    msg: Msg
    ack_wait: float
    # Called with every heartbeat (the attempt journal notes that the attempt is alive).
    on_beat: Callable[[], Awaitable[None]] | None = None

    def caused_metadata(self, service: str) -> Metadata:
        """Metadata for what this delivery causes: the service acts, the event is the cause."""
        return Metadata(
            actor=f"service:{service}",
            causation_id=self.envelope.id,
            correlation_id=self.envelope.metadata.correlation_id,
        )

    async def heartbeat(self) -> None:
        """Tells JetStream the work goes on, pushing the redelivery deadline back."""
        await self.msg.in_progress()

    @contextlib.asynccontextmanager
    async def keep_alive(self) -> AsyncIterator[None]:
        """Heartbeats every third of the ack deadline while long work runs inside."""

        async def beat() -> None:
            while True:
                await asyncio.sleep(self.ack_wait / 3)
                with contextlib.suppress(Exception):
                    await self.heartbeat()
                if self.on_beat is not None:
                    with contextlib.suppress(Exception):
                        await self.on_beat()

        task = asyncio.create_task(beat())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class Slot:
    """One of the runner's concurrency slots, held by a message's task; given back while its
    deferred work waits, so that waiting takes no slot from other work."""

    def __init__(self, slots: asyncio.Semaphore) -> None:
        self.slots = slots
        self.held = True  # taken by the fetch loop before the task starts

    def release(self) -> None:
        if self.held:
            self.held = False
            self.slots.release()

    async def take(self) -> None:
        await self.slots.acquire()
        self.held = True


Handler = Callable[[Delivery], Awaitable[None]]
# (envelope, code, reason): the event whose work failed for good, and why.
ExhaustedHook = Callable[[Envelope, str, str], Awaitable[None]]


@dataclass
class ServiceSpec:
    """A service: its durable consumer's name, the subjects it takes, and what it does."""

    name: str
    subjects: list[str]
    handle: Handler
    # Called once when an event's work can never be done; by default the service's wiring
    # appends job.failed. It must itself be idempotent.
    on_exhausted: ExhaustedHook | None = None
    max_deliver: int = 5
    backoff: tuple[float, ...] = (1.0, 5.0, 15.0, 60.0)
    ack_wait: float = 30.0
    concurrency: int = 4
    stream: str = "ADPIPE"
    # Copies of the stream and of this consumer (ADPIPE_STREAM_REPLICAS): on a 3-node cluster a
    # consumer with fewer copies than its stream would lose its acks with its one server. None
    # keeps the stream's count, and the consumer then takes the stream's (JetStream's default).
    replicas: int | None = None
    instance: str = field(default_factory=socket.gethostname)
    # Where deliveries are noted before they are handled, so a crash is known when the message
    # comes back; None: crashes are only bounded by max_deliver.
    journal: AttemptJournal | None = None
    max_crashes: int = 2
    # Seconds a handler may run before it is stopped and its message retried; None: no bound.
    deadline: float | None = None
    # On stop, how long handlers may take to finish before they are stopped and handed back.
    drain_seconds: float = 10.0


def service_spec(
    store: EventStore,
    settings: Settings,
    *,
    name: str,
    subjects: list[str],
    handle: Handler,
    stage: str,
    concurrency: int | None = None,
) -> ServiceSpec:
    """The usual spec: retries and deadlines from settings, job.failed when retries are spent."""
    return ServiceSpec(
        name=name,
        subjects=subjects,
        handle=handle,
        on_exhausted=fail_job_when_exhausted(store, stage),
        max_deliver=settings.max_deliver,
        backoff=settings.retry_backoff_seconds,
        ack_wait=settings.ack_wait_seconds,
        concurrency=settings.service_concurrency if concurrency is None else concurrency,
        stream=settings.stream_name,
        replicas=settings.stream_replicas,
        journal=PostgresAttemptJournal(store.pool),
        max_crashes=settings.max_crashes,
        deadline=settings.handler_deadline_seconds.get(
            name, settings.default_handler_deadline_seconds
        ),
        drain_seconds=settings.service_drain_seconds,
    )


class ServiceRunner:
    # Empty one-second fetches between two checks that the consumer exists and delivers.
    idle_check_fetches = 30

    def __init__(self, spec: ServiceSpec, js: JetStreamContext) -> None:
        self.spec = spec
        self.js = js
        self.attempts = Attempts(spec.journal, spec.name, spec.ack_wait)
        # Set by `run`: deferred work waiting for its wake leaves when it is.
        self._stop = asyncio.Event()

    async def ensure_consumer(self) -> None:
        spec = self.spec
        await ensure_stream(self.js, spec.stream, replicas=spec.replicas)
        config = ConsumerConfig(
            durable_name=spec.name,
            filter_subjects=spec.subjects,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=spec.ack_wait,
            # Unbounded on the server: we bound retries ourselves so that the last one can record
            # job.failed; a server-side cap would just stop delivering and leave the job hanging.
            max_deliver=-1,
            max_ack_pending=max(spec.concurrency * 4, 16),
            num_replicas=spec.replicas,
        )
        try:
            await self.js.consumer_info(spec.stream, spec.name)
            await self.js.add_consumer(spec.stream, config)  # same name: updates the config
        except NotFoundError:
            await self.js.add_consumer(spec.stream, config)
        JETSTREAM.watch(self.js, spec.stream, spec.name)  # its pending count, read at scrape time

    async def run(self, stop: asyncio.Event) -> None:
        """Fetches and handles until `stop` is set; rebuilds the subscription when it breaks.

        Handlers run in one TaskGroup, at most `concurrency` at once (a semaphore slot each).
        On stop, fetching ends and handlers get `drain_seconds` to finish; the rest are stopped
        and their messages handed back at once (nak, not acked: another instance gets them),
        settled in the journal — a restart neither waits for a long render nor leaves it counted
        as a crash. Cancelled, it stops them all straight away.
        """
        slots = asyncio.Semaphore(self.spec.concurrency)
        self._stop = stop
        try:
            async with asyncio.timeout(None) as drain:
                async with asyncio.TaskGroup() as handlers:
                    await self._consume(stop, handlers, slots)
                    # Leaving the group waits for the handlers still running, until the drain
                    # deadline cancels them.
                    drain.reschedule(asyncio.get_running_loop().time() + self.spec.drain_seconds)
        except TimeoutError:
            log.info(
                "%s: handlers still running after %g s were stopped and handed back",
                self.spec.name,
                self.spec.drain_seconds,
            )

    async def _consume(
        self, stop: asyncio.Event, handlers: asyncio.TaskGroup, slots: asyncio.Semaphore
    ) -> None:
        delay = 0.2
        while not stop.is_set():
            try:
                await self.ensure_consumer()
                sub = await self._subscribe()
                delay = 0.2
                try:
                    await self._fetch_loop(sub, stop, handlers, slots)
                finally:
                    with contextlib.suppress(Exception):
                        await sub.unsubscribe()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # nats-py's pull subscriptions can go quiet after a server restart; a fresh
                # subscription (and consumer check) is the reliable cure.
                log.warning("%s: consumer loop failed (%s); rebuilding", self.spec.name, exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _subscribe(self) -> Any:
        return await self.js.pull_subscribe_bind(durable=self.spec.name, stream=self.spec.stream)

    async def _fetch_loop(
        self, sub: Any, stop: asyncio.Event, handlers: asyncio.TaskGroup, slots: asyncio.Semaphore
    ) -> None:
        idle = 0
        while not stop.is_set():
            free = await self._take_slots(slots)
            if not free:
                continue  # every slot busy for a second: look at `stop` again
            try:
                msgs = await sub.fetch(batch=free, timeout=1.0)
            except TimeoutError:
                for _ in range(free):
                    slots.release()
                idle += 1
                if idle % self.idle_check_fetches == 0:  # ~30 s idle: the consumer exists …
                    info = await self.js.consumer_info(self.spec.stream, self.spec.name)
                    # … and still delivers: 30 s of empty fetches with room to take more, while
                    # the server holds undelivered messages, is the quiet subscription nats-py
                    # can be left with after a server restart. Raising rebuilds it.
                    limit = info.config.max_ack_pending or 0
                    if (info.num_pending or 0) > 0 and (info.num_ack_pending or 0) < limit:
                        raise QuietSubscription(
                            f"{info.num_pending} messages wait but none came for {idle} s"
                        ) from None
                continue
            except BaseException:
                for _ in range(free):
                    slots.release()
                raise
            idle = 0
            for _ in range(free - len(msgs)):
                slots.release()
            for msg in msgs:
                handlers.create_task(self._handle_in_slot(msg, slots))

    async def _take_slots(self, slots: asyncio.Semaphore) -> int:
        """Waits up to a second for a free slot, then takes every free one: the fetch size."""
        taken = 0
        # Bounded, so a stop is noticed while every slot is busy with a long render.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(1.0):
                await slots.acquire()
                taken = 1
        while taken and not slots.locked():
            await slots.acquire()  # a free slot: returns at once
            taken += 1
        return taken

    async def _handle_in_slot(self, msg: Msg, slots: asyncio.Semaphore) -> None:
        slot = Slot(slots)
        try:
            await self._handle(msg, slot)
        finally:
            slot.release()

    async def _handle(self, msg: Msg, slot: Slot) -> None:
        spec = self.spec
        try:
            try:
                envelope = decode_envelope(msg.data)
            except Exception as exc:
                log.error("%s: undecodable message dropped: %s", spec.name, exc)
                await msg.term()
                return
            # JetStream's count of this message's deliveries: the journal's key for this one.
            delivered = msg.metadata.num_delivered or 1
            try:
                begun = await self.attempts.begin(envelope.id, delivered)
            except Exception as exc:  # Postgres is down: the handler could not work either
                log.warning("%s: cannot note the attempt (%s); retrying later", spec.name, exc)
                await msg.nak(delay=spec.backoff[0])
                return
            # Deliveries handed back unstarted (Deferred) were no attempts.
            attempt = delivered - begun.deferred
            if attempt > spec.max_deliver:
                # Earlier deliveries died with their process: stop trying, say why.
                reason = f"gave up after {spec.max_deliver} attempts that never finished"
                await self._give_up(msg, envelope, reason)
                return
            if len(begun.crashes) >= spec.max_crashes:
                reason = crash_reason(spec.name, envelope, begun.crashes)
                await self._give_up(msg, envelope, reason, code="crashed")
                return
            await self._attempt(msg, envelope, attempt, begun.crashes, delivered, slot)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await msg.nak()  # hand it to another instance straight away
            raise
        except Exception:
            log.exception("%s: could not settle a message; it will be redelivered", spec.name)

    async def _attempt(
        self,
        msg: Msg,
        envelope: Envelope,
        attempt: int,
        crashes: list[CrashedAttempt],
        delivered: int,
        slot: Slot,
    ) -> None:
        """Runs the handler once, under the deadline, and settles the message by its outcome.

        `attempt` counts the tries that were real (retries, crashes); `delivered` is JetStream's
        delivery number, the journal's key for this one."""
        spec = self.spec
        delivery = Delivery(
            envelope=envelope,
            attempt=attempt,
            msg=msg,
            ack_wait=spec.ack_wait,
            on_beat=self.attempts.beat(envelope.id, delivered),
        )
        while True:
            deadline = asyncio.timeout(spec.deadline)
            try:
                async with deadline:
                    async with delivery.keep_alive():
                        await observed_handle(spec.name, spec.handle, delivery)
                break
            except asyncio.CancelledError:
                # Stopped from outside (shutdown), not crashed: this attempt must not count.
                await self.attempts.settle(envelope.id, delivered)
                raise
            except Deferred as exc:
                await self.attempts.defer(envelope.id, delivered)
                if exc.wake is not None:
                    if await self._wait_for_wake(delivery, exc.wake, exc.delay, slot):
                        # An attempt again from here: a crash now counts as one.
                        await self.attempts.begin(envelope.id, delivered)
                        continue
                    delay = 0.0  # it has waited its delay already
                else:
                    delay = exc.delay
                log.info("%s: %s deferred %.1fs: %s", spec.name, envelope.type, delay, exc.detail)
                await msg.nak(delay=delay or None)
                return
            except InvalidTransition as exc:
                # The job moved on (cancelled, already done): nothing left to do for this event.
                log.info("%s: %s skipped: %s", spec.name, envelope.type, exc.detail)
                break
            except Permanent as exc:
                await self._give_up(msg, envelope, exc.detail, code=exc.code)
                return
            except Crashed as exc:
                await self.attempts.crashed(envelope.id, delivered, exc.detail)
                this = CrashedAttempt(delivery=delivered, reason=exc.detail)
                if len(crashes) + 1 >= spec.max_crashes or attempt >= spec.max_deliver:
                    reason = crash_reason(spec.name, envelope, [*crashes, this])
                    await self._give_up(msg, envelope, reason, code="crashed")
                    return
                await self._retry(msg, envelope, attempt, exc, exc.detail)
                return
            except Exception as exc:
                if isinstance(exc, TimeoutError) and deadline.expired():
                    detail = (
                        f"the handler ran past its deadline of {spec.deadline:g} s and was stopped"
                    )
                elif isinstance(exc, AdpipeError):
                    detail = exc.detail
                else:
                    detail = f"{type(exc).__name__}: {exc}"
                await self.attempts.settle(envelope.id, delivered)
                if attempt >= spec.max_deliver:
                    reason = f"gave up after {attempt} attempts: {detail}"
                    await self._give_up(msg, envelope, reason)
                    return
                await self._retry(msg, envelope, attempt, exc, detail)
                return
        await msg.ack()
        await self.attempts.forget(envelope.id)

    async def _wait_for_wake(
        self,
        delivery: Delivery,
        wake: Callable[[], Awaitable[None]],
        limit: float,
        slot: Slot,
    ) -> bool:
        """Deferred work waits, its slot given back and its message kept alive, until `wake`
        returns (True: its slot is taken again, it may run) or `limit` seconds pass or the runner
        stops (False)."""
        if self._stop.is_set():
            return False
        slot.release()
        async with delivery.keep_alive():
            woken = asyncio.ensure_future(wake())
            stopped = asyncio.ensure_future(self._stop.wait())
            try:
                await asyncio.wait(
                    {woken, stopped}, timeout=limit, return_when=asyncio.FIRST_COMPLETED
                )
            finally:
                for waiter in (woken, stopped):
                    waiter.cancel()
                await asyncio.gather(woken, stopped, return_exceptions=True)
            if not woken.done() or woken.cancelled() or self._stop.is_set():
                return False
            await slot.take()
        return True

    async def _retry(
        self, msg: Msg, envelope: Envelope, attempt: int, exc: Exception, detail: str
    ) -> None:
        spec = self.spec
        backoff = spec.backoff[min(attempt - 1, len(spec.backoff) - 1)]
        if isinstance(exc, Retry) and exc.delay is not None:
            backoff = exc.delay
        log.warning(
            "%s: %s attempt %d failed (%s); retrying in %.1fs",
            spec.name,
            envelope.type,
            attempt,
            detail,
            backoff,
        )
        await msg.nak(delay=backoff)

    async def _give_up(
        self, msg: Msg, envelope: Envelope, reason: str, code: str = "retries_exhausted"
    ) -> None:
        """Records the failure (job.failed), then ends the message's deliveries for good."""
        await self._exhausted(envelope, reason, code=code)
        await msg.term()
        await self.attempts.forget(envelope.id)

    async def _exhausted(
        self, envelope: Envelope, reason: str, code: str = "retries_exhausted"
    ) -> None:
        # The reason is recorded (job.failed, asset.failed): a URL quoted in an error (ours or a
        # library's) goes in without its credentials.
        reason = redact_text(reason)
        log.error(
            "%s: %s on %s failed for good: %s",
            self.spec.name,
            envelope.type,
            envelope.stream,
            reason,
        )
        if self.spec.on_exhausted is not None:
            await self.spec.on_exhausted(envelope, code, reason)


def fail_job_when_exhausted(store: EventStore, stage: str) -> ExhaustedHook:
    """The usual hook: the job the event belongs to gets `job.failed` with the reason."""
    from adpipe.domain.job import Fail
    from adpipe.jobs import execute

    async def hook(envelope: Envelope, code: str, reason: str) -> None:
        job_id = _job_of(envelope)
        if job_id is None:
            return
        try:
            await execute(store, job_id, Fail(code=code, message=reason, stage=stage))
        except InvalidTransition:
            pass  # already ended (cancelled, failed, completed): nothing to report

    return hook


def crash_reason(service: str, envelope: Envelope, crashes: list[CrashedAttempt]) -> str:
    times = {1: "once", 2: "twice"}.get(len(crashes), f"{len(crashes)} times")
    subject = "this job" if _job_of(envelope) is not None else f"this {envelope.kind}"
    found = "; ".join(crash.describe() for crash in crashes)
    return f"the {service} process crashed {times} while handling {subject}: {found}"


def _job_of(envelope: Envelope) -> str | None:
    if envelope.kind == "job":
        return str(envelope.entity_id)
    job_id: object = getattr(envelope.data, "job_id", None)
    return job_id if isinstance(job_id, str) else None
