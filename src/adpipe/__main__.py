"""`python -m adpipe …`, the same as the `adpipe` command; `adpipe up` starts its roles this way."""

from __future__ import annotations

import sys

from adpipe.cli import main

sys.exit(main())
