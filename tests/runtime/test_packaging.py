"""The wheel carries every module and data file, with events/, projections/ and services/ mapped
under adpipe (setuptools' package-dir mapping is easy to get subtly wrong)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# The studio's web files: served from the installed package, so each must be in the wheel.
STUDIO_SUFFIXES = {".html", ".js", ".css", ".svg"}
MAPPING = {
    "src/adpipe": "adpipe",
    "events": "adpipe/events",
    "projections": "adpipe/projections",
    "services": "adpipe/services",
}


def expected_files() -> set[str]:
    wanted = set()
    for folder, target in MAPPING.items():
        base = ROOT / folder
        for path in base.rglob("*"):
            if "__pycache__" in path.parts or not path.is_file():
                continue
            if path.suffix in {".py", ".sql"} or (
                path.suffix == ".json" and "schema" in path.parts
            ):
                wanted.add(f"{target}/{path.relative_to(base).as_posix()}")
            elif path.suffix in STUDIO_SUFFIXES and "studio" in path.parts:
                wanted.add(f"{target}/{path.relative_to(base).as_posix()}")
    # events/ etc. sit inside src/adpipe's tree only through the mapping, never twice.
    return wanted


@pytest.mark.slow
def test_the_wheel_holds_every_module_and_data_file(tmp_path: Path) -> None:
    subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    [wheel] = tmp_path.glob("adpipe-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(expected_files() - names)
    assert not missing, f"not in the wheel: {missing}"
    assert "adpipe/storage/sql/0001_core.sql" in names
    assert "adpipe/events/schema/asyncapi.json" in names
    assert {"adpipe/studio/index.html", "adpipe/studio/js/main.js"} <= names
