"""A tiny service run as a separate process by the service-runtime tests.

For each `client.created` it appends one `client.updated` at expected version 1 — idempotent, so a
redelivery finds the work done. MODE `hang` blocks forever inside the handler (the test kills the
process); `exit-after-effect` dies after the append but before the ack; `normal` just works.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
from pathlib import Path

from adpipe.bus import connect
from adpipe.context import open_core
from adpipe.errors import StreamVersionConflict
from adpipe.events.party import ClientProfile, ClientUpdated
from adpipe.settings import load_settings
from adpipe.worker import Delivery, ServiceRunner, ServiceSpec


async def main(mode: str, markers: Path) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = load_settings()
    async with open_core(settings) as core:
        nc = await connect(settings.nats_url)

        async def handle(delivery: Delivery) -> None:
            (markers / f"started-{os.getpid()}").write_text(delivery.envelope.id)
            if mode == "hang":
                await asyncio.sleep(3600)
            stream = delivery.envelope.stream
            if await core.store.stream_version(stream) >= 2:
                return  # done by an earlier delivery
            event = ClientUpdated(profile=ClientProfile(name=f"handled by {os.getpid()}"))
            try:
                await core.store.append(stream, [event], 1)
            except StreamVersionConflict:
                return
            if mode == "exit-after-effect":
                os._exit(9)

        spec = ServiceSpec(
            name="echo",
            subjects=["adpipe.client.created"],
            handle=handle,
            ack_wait=2.0,
            backoff=(0.2,),
        )
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        (markers / f"ready-{os.getpid()}").touch()
        await ServiceRunner(spec, nc.jetstream()).run(stop)
        await nc.drain()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], Path(sys.argv[2])))
