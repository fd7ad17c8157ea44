"""``batchpay users`` and ``batchpay web`` from the command line (a real server process)."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
from click.testing import CliRunner

from batchpay.cli import main
from batchpay.web.cli import DEMO_JOBS
from batchpay.web.store import Store


def test_users_add_prompts_for_the_password_and_stores_only_an_argon2_hash(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    password = "a very long secret"
    result = CliRunner().invoke(main, ["users", "add", "alice", "--role", "approver",
                                       "--data", str(data)], input=f"{password}\n{password}\n")
    assert result.exit_code == 0, result.output
    assert "User alice saved with role approver" in result.output
    store = Store(data / "web.sqlite")
    try:
        found = store.password_hash("alice")
        assert found is not None and found[0].role == "approver"
        assert found[1].startswith("$argon2id$")
    finally:
        store.close()
    assert password.encode() not in (data / "web.sqlite").read_bytes()
    listed = CliRunner().invoke(main, ["users", "list", "--data", str(data)])
    assert listed.output == "alice\tapprover\n"


def test_users_add_refuses_a_short_password_in_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["users", "add", "bob", "--role", "preparer", "--data",
                                       str(tmp_path)], input="short\nshort\n")
    assert result.exit_code == 2
    assert "at least 12 characters" in result.output
    assert "Traceback" not in result.output


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def _serving(tmp_path: Path, *args: str) -> Iterator[tuple[subprocess.Popen[str], int, str]]:
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "batchpay.cli", "web", "--port", str(port), "--data",
         str(tmp_path / "data"), "--sandbox-state", str(tmp_path / "sandbox.sqlite"), *args],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path,
    )
    try:
        lines = []
        while proc.stdout is not None:
            line = proc.stdout.readline()
            if not line:
                raise AssertionError(f"server exited: {proc.stderr.read() if proc.stderr else ''}")
            lines.append(line)
            if line.startswith("batchpay web on"):
                break
        for _ in range(300):  # uvicorn binds just after the banner
            with socket.socket() as probe:
                if probe.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield proc, port, "".join(lines)
    finally:
        proc.terminate()
        proc.wait(30)


def test_web_binds_loopback_by_default_and_demo_passwords_sign_in(tmp_path: Path) -> None:
    with _serving(tmp_path, "--demo") as (proc, port, banner):
        assert f"batchpay web on http://127.0.0.1:{port}" in banner
        passwords = dict(re.findall(r"^  (\w+)\s+\w+\s+(\S+)$", banner, re.M))
        assert set(passwords) == {"preparer", "approver", "admin"}
        with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
            page = client.get("/signin").text
            token = re.search(r'name="csrf" value="([^"]+)"', page)
            assert token is not None
            signed_in = client.post("/signin", data={
                "name": "approver", "password": passwords["approver"], "csrf": token.group(1)})
            assert signed_in.status_code == 303
            assert "bank-deposits/job.yaml" in client.get("/jobs").text
            assert "sandbox-seed.yaml" not in client.get("/jobs").text
    assert proc.stderr is not None and "Warning" not in proc.stderr.read()


def test_web_warns_when_another_host_is_given_without_https(tmp_path: Path) -> None:
    (tmp_path / "jobs").mkdir()
    with _serving(tmp_path, "--host", "0.0.0.0", "--jobs", str(tmp_path / "jobs")) as (
        proc, _port, _banner
    ):
        pass
    assert proc.stderr is not None
    assert "Warning: serving plain HTTP on 0.0.0.0" in proc.stderr.read()


def test_web_demo_keeps_an_admins_edits_to_the_sample_jobs(tmp_path: Path) -> None:
    """Each --demo start copied the samples over the data folder's copies; an edit is now kept,
    a copy left as it was stays the sample, and a sample not there yet (deleted here, or new in
    the package) is copied."""
    with _serving(tmp_path, "--demo"):
        pass
    jobs = tmp_path / "data" / "demo-jobs"
    edited = jobs / "bank-deposits" / "job.yaml"
    text = edited.read_text(encoding="utf-8").replace("name:", "# the admin's note\nname:", 1)
    assert text != edited.read_text(encoding="utf-8")
    edited.write_text(text, encoding="utf-8")
    shutil.rmtree(jobs / "charge-list")
    with _serving(tmp_path, "--demo"):
        pass
    assert edited.read_text(encoding="utf-8") == text
    for sample in ("bank-deposits/deposits.csv", "charge-list/job.yaml", "charge-list/charges.csv"):
        assert (jobs / sample).read_bytes() == (DEMO_JOBS / sample).read_bytes(), sample
