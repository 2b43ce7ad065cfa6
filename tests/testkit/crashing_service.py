"""A service run as a separate process by the poison-message test: its handler kills its own
process with SIGKILL, as a segfault in FFmpeg or the kernel's OOM killer would.

It runs the real runtime with the real attempt journal and job-failing hook; each start writes
`ready-<pid>`, each handled delivery `started-<pid>`.
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
from adpipe.settings import load_settings
from adpipe.storage.attempts import PostgresAttemptJournal
from adpipe.worker import Delivery, ServiceRunner, ServiceSpec, fail_job_when_exhausted


async def main(markers: Path) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = load_settings()
    async with open_core(settings) as core:
        nc = await connect(settings.nats_url)

        async def handle(delivery: Delivery) -> None:
            (markers / f"started-{os.getpid()}").write_text(str(delivery.attempt))
            os.kill(os.getpid(), signal.SIGKILL)

        spec = ServiceSpec(
            name="crasher",
            subjects=["adpipe.job.created"],
            handle=handle,
            on_exhausted=fail_job_when_exhausted(core.store, "planning"),
            ack_wait=2.0,
            backoff=(0.2,),
            journal=PostgresAttemptJournal(core.pool),
            max_crashes=settings.max_crashes,
        )
        stop = asyncio.Event()
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
        (markers / f"ready-{os.getpid()}").touch()
        await ServiceRunner(spec, nc.jetstream()).run(stop)
        await nc.drain()


if __name__ == "__main__":
    asyncio.run(main(Path(sys.argv[1])))
