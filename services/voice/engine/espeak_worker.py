"""The espeak-ng worker process's entry point (`python -m …voice.engine.espeak_worker`), a
module of its own so that running it does not re-run a module the package already imported."""

from __future__ import annotations

import sys

from .espeak_lib import serve

if __name__ == "__main__":
    serve(sys.stdin.buffer, sys.stdout.buffer)
