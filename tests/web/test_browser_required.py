"""In CI (.ci/run sets BATCHPAY_REQUIRE_BROWSER=1) a missing browser fails the browser test
instead of skipping it: a skipped browser test is not a passing one."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _run_browser_test(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:randomly", "-p", "no:cacheprovider",
         str(HERE / "test_browser.py"), "--rootdir", str(HERE.parents[1])],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
        env={**os.environ, "CHROMIUM_PATH": str(tmp_path / "no-such-chromium"), **env},
    )


def test_without_a_browser_the_test_skips_locally_but_fails_when_required(
    tmp_path: Path,
) -> None:
    local = _run_browser_test(tmp_path, BATCHPAY_REQUIRE_BROWSER="")
    assert local.returncode == 0, local.stdout
    assert "skipped" in local.stdout and "passed" not in local.stdout
    required = _run_browser_test(tmp_path, BATCHPAY_REQUIRE_BROWSER="1")
    assert required.returncode == 1, required.stdout
    assert "browser test required (BATCHPAY_REQUIRE_BROWSER=1) but no Chromium" in required.stdout
