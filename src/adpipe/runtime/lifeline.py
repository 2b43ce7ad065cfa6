"""A role process started by `adpipe up` dies with it, even when `adpipe up` is SIGKILLed.

The supervisor names itself in the child's environment; the child asks the kernel for SIGKILL when
its parent goes (PR_SET_PDEATHSIG) and then checks the parent is still the one named, which closes
the window where the parent died before the request was made. The pid files and the sweep in
`leftovers` catch what this cannot (a platform without prctl).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
from collections.abc import MutableMapping

log = logging.getLogger(__name__)

SUPERVISOR_ENV = "ADPIPE_SUPERVISOR_PID"
_PR_SET_PDEATHSIG = 1


def die_with_supervisor(env: MutableMapping[str, str] | None = None) -> None:
    """Bind this process's life to the supervisor named in `env`; a no-op when none is named.

    The variable is removed so that processes this one starts in turn do not bind to a
    supervisor that is not their parent.
    """
    env = os.environ if env is None else env
    raw = env.pop(SUPERVISOR_ENV, None)
    if raw is None or not raw.isdigit():
        return
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            log.warning("prctl(PR_SET_PDEATHSIG) failed: %s", os.strerror(ctypes.get_errno()))
    if os.getppid() != int(raw):
        # The supervisor is already gone: nobody would stop or restart this process.
        os._exit(1)
