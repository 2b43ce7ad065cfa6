"""Running schemathesis (`st run`) against a live server's own OpenAPI document."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

CHECKS = "all"
MAX_EXAMPLES = int(os.environ.get("ADPIPE_FUZZ_EXAMPLES", "8"))


async def run_schemathesis(base_url: str, key: str, cwd: Path, *extra: str) -> str:
    """Fuzzes every documented operation (narrowed by `extra` options); fails on any finding."""
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("st")),
        "run",
        f"{base_url}/schema/openapi.json",
        "--header",
        f"Authorization: Bearer {key}",
        "--checks",
        CHECKS,
        "--max-examples",
        str(MAX_EXAMPLES),
        "--seed",
        os.environ.get("ADPIPE_TEST_SEED", "1"),
        "--workers",
        "1",
        "--request-timeout",
        "30",
        "--no-shrink",
        "--suppress-health-check",
        "all",
        "--max-failures",
        "200",
        *extra,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "NO_COLOR": "1", "SCHEMATHESIS_HOOKS": ""},
    )
    output, _ = await process.communicate()
    text = output.decode(errors="replace")
    # The whole report stays beside the test (pytest keeps the last runs' tmp_path).
    (cwd / "schemathesis.log").write_text(text)
    assert process.returncode == 0, f"full report: {cwd / 'schemathesis.log'}\n{text[-20000:]}"
    return text
