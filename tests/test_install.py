"""Issue 14 item 6: a plain, non-editable install works from any folder.

The wheel is built from this checkout and installed (no dependencies, no index) into a fresh
venv that borrows the test environment's third-party packages through a ``.pth`` line. Paths
from a ``.pth`` line are searched after the venv's own site-packages and their own ``.pth``
files are not run, so the editable batchpay of the test environment cannot shadow the wheel.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import sysconfig
import time
from pathlib import Path

import httpx
import pytest

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "bank-deposits"


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "VIRTUAL_ENV") and not k.startswith("CHARGEBEE_")}


def _run(args: list[str | Path], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=_env())


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The venv's bin folder, with batchpay installed from a freshly built wheel."""
    tmp = tmp_path_factory.mktemp("install")
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                  "--no-index", "-w", tmp / "dist", REPO], cwd=tmp)
    if built.returncode != 0 and "No module named pip" in built.stderr:
        pytest.skip("pip is not available to build the wheel")
    assert built.returncode == 0, built.stderr[-2000:]
    wheel = next((tmp / "dist").glob("batchpay-*.whl"))
    venv = tmp / "venv"
    assert _run([sys.executable, "-m", "venv", venv], cwd=tmp).returncode == 0
    site = Path(_run([venv / "bin" / "python", "-c",
                      "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=tmp).stdout.strip())
    (site / "borrowed-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    pip = _run([venv / "bin" / "python", "-m", "pip", "install", "--no-deps", "--no-index",
                wheel], cwd=tmp)
    assert pip.returncode == 0, pip.stderr[-2000:]
    return venv / "bin"


def test_installed_package_is_the_wheel_not_the_checkout(installed: Path, tmp_path: Path) -> None:
    where = _run([installed / "python", "-c", "import batchpay; print(batchpay.__file__)"],
                 cwd=tmp_path).stdout.strip()
    assert where.startswith(str(installed.parent)) and not where.startswith(str(REPO))


def test_sample_runs_from_another_folder(installed: Path, tmp_path: Path) -> None:
    """The schemas and the demo seed come from the package: the job's schema is found and the
    built-in sandbox holds the demo invoices (before, every invoice was "not found")."""
    job, data = SAMPLE / "job.yaml", SAMPLE / "deposits.csv"
    validate = _run([installed / "batchpay", "validate", job, data], cwd=tmp_path)
    assert validate.returncode == 0, validate.stderr
    dry = _run([installed / "batchpay", "run", job, data, "--json"], cwd=tmp_path)
    assert dry.returncode == 0, dry.stderr
    assert '"would_post": 8' in dry.stdout or '"posted": 8' in dry.stdout, dry.stdout
    assert (tmp_path / ".batchpay" / "sandbox.sqlite").is_file()
    assert list((tmp_path / "reports").glob("bank-deposits-*-dry-run.xlsx"))
    module = _run([installed / "python", "-m", "batchpay", "--version"], cwd=tmp_path)
    assert module.returncode == 0 and module.stdout.startswith("batchpay, version ")


def test_web_demo_serves_the_packaged_sample_jobs_from_another_folder(
    installed: Path, tmp_path: Path
) -> None:
    """``batchpay web --demo`` found its jobs in the checkout's samples/, which a wheel lacks:
    the installed server must list every sample job, copied from the package."""
    samples = sorted(p.name for p in (REPO / "samples").iterdir() if p.is_dir())
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    proc = subprocess.Popen([installed / "batchpay", "web", "--demo", "--port", str(port)],
                            cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=_env())
    try:
        banner = []
        while proc.stdout is not None:
            line = proc.stdout.readline()
            assert line, f"the server exited: {proc.stderr.read() if proc.stderr else ''}"
            banner.append(line)
            if line.startswith("batchpay web on"):
                break
        found = re.search(r"jobs in (.+)\); Ctrl-C", banner[-1])
        assert found, banner[-1]
        jobs = (tmp_path / found.group(1)).resolve()
        assert not jobs.is_relative_to(REPO) and jobs.is_relative_to(tmp_path.resolve())
        assert sorted(p.name for p in jobs.iterdir()) == samples
        passwords = dict(re.findall(r"^  (\w+)\s+\w+\s+(\S+)$", "".join(banner), re.M))
        for _ in range(300):  # uvicorn binds just after the banner
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            token = re.search(r'name="csrf" value="([^"]+)"', client.get("/signin").text)
            assert token is not None
            signed_in = client.post("/signin", data={
                "name": "admin", "password": passwords["admin"], "csrf": token.group(1)})
            assert signed_in.status_code == 303
            page = client.get("/jobs").text
        listed = set(re.findall(r'href="/jobs/([\w-]+)/', page))
        assert sorted(listed) == samples, page[:2000]
    finally:
        proc.terminate()
        proc.wait(30)
