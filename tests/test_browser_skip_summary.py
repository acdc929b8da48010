"""Without Chromium the browser tests are skipped, and the summary says why without `-rs`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_the_summary_names_why_the_browser_tests_were_skipped(tmp_path: Path) -> None:
    env = {**os.environ, "CENTRALITA_CHROMIUM": str(tmp_path / "no-chromium"), "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/browser/test_widget_stub.py"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-2000:]
    assert f"browser tests skipped: no Chromium at {tmp_path / 'no-chromium'}" in result.stdout
