"""Issue 12 item 9: one site, however it is spelled, is one identity — one idempotency-key
namespace, one journal identity, one execute lock (per site, not per journal file)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "engine"))

from bp_testkit import (
    PYTHON,
    REPO,
    SECRET_KEY,
    _child_env,
    assert_exactly_once,
    journal_states,
    paused,
    run_batchpay,
    sandbox_server,
    start_batchpay,
    synthetic_rows,
    synthetic_seed,
    write_csv,
    write_job,
)

from batchpay.spec import load_spec
from batchpay.target import resolve_target

SAMPLES = REPO / "samples"
ENV = {"CHARGEBEE_API_KEY": SECRET_KEY}


def _identity(tmp_path: Path, site: str | None = None, base_url: str | None = None) -> str:
    spec = load_spec(SAMPLES / "charge-list" / "job.yaml")
    return resolve_target(spec, site=site, base_url=base_url, env=ENV,
                          sandbox_state=tmp_path / "sb.sqlite").site


@pytest.mark.parametrize("spelling", [
    {"site": "acme-test"}, {"site": "ACME-test"}, {"site": "Acme-Test"},
    {"base_url": "https://acme-test.chargebee.com"},
    {"base_url": "HTTPS://ACME-TEST.chargebee.com:443/api/v2/"},
    {"base_url": "https://acme-test.chargebee.com./api/v2"},
])
def test_every_spelling_of_a_chargebee_site_is_one_identity(
    tmp_path: Path, spelling: dict[str, str]
) -> None:
    assert _identity(tmp_path, **spelling) == "acme-test.chargebee.com"


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8123", "http://localhost:8123/", "http://LOCALHOST:8123/api/v2",
    "http://[::1]:8123/api/v2/", "http://127.0.0.1:8123/api/v2",
])
def test_every_loopback_spelling_is_one_identity(tmp_path: Path, url: str) -> None:
    assert _identity(tmp_path, base_url=url) == "http://localhost:8123"


def test_different_sites_stay_apart(tmp_path: Path) -> None:
    assert _identity(tmp_path, site="acme-test") != _identity(tmp_path, site="acme2-test")
    assert _identity(tmp_path, base_url="http://127.0.0.1:8123") != _identity(
        tmp_path, base_url="http://127.0.0.1:8124")
    assert _identity(tmp_path) != _identity(tmp_path / "other")  # two sandbox state files


def _charge_args(tmp: Path, url: str, journal: Path, *extra: str) -> list[str]:
    return [PYTHON, "-m", "batchpay.cli", "run", str(SAMPLES / "charge-list" / "job.yaml"),
            str(SAMPLES / "charge-list" / "charges.csv"), "--base-url", url,
            "--journal", str(journal), "--reports-dir", str(tmp / "reports"), *extra]


def test_a_charge_list_run_with_two_spellings_posts_each_row_once(tmp_path: Path) -> None:
    with sandbox_server(tmp_path, seed=SAMPLES / "sandbox-seed.yaml") as server:
        port = server.port
        first = run_batchpay(_charge_args(tmp_path, f"http://127.0.0.1:{port}",
                                          tmp_path / "journal.sqlite", "--execute", "--yes"))
        assert first.returncode == 1, first.stdout + first.stderr  # two rows fail on the site
        posted = len(server.ledger())
        assert posted == 4
        second = run_batchpay(_charge_args(tmp_path, f"http://localhost:{port}/api/v2/",
                                           tmp_path / "journal.sqlite", "--execute", "--yes"))
        assert second.returncode == 1, second.stdout + second.stderr
        assert len(server.ledger()) == posted, "the second spelling posted the rows again"
        keys = [e["idempotency_key"] for e in server.ledger()]
        assert len(keys) == len(set(keys))


def test_two_executes_with_different_spellings_and_journals_cannot_both_run(
    tmp_path: Path,
) -> None:
    n = 30
    rows = synthetic_rows(n, "SP-")
    job = write_job(tmp_path / "job.yaml", concurrency=2)
    data = write_csv(tmp_path / "d.csv", rows)
    with sandbox_server(tmp_path, faults={"latency_ms": 100}) as server:
        server.seed_with(synthetic_seed(n, prefix="SP-"))

        def args(url: str, journal: str) -> list[str]:
            return [PYTHON, "-m", "batchpay.cli", "run", str(job), str(data), "--base-url", url,
                    "--journal", str(tmp_path / journal), "--reports-dir",
                    str(tmp_path / f"reports-{journal}"), "--execute", "--yes"]

        first = start_batchpay(args(server.api, "a.sqlite"), out=tmp_path / "first.log")
        deadline = time.monotonic() + 30
        while sum(journal_states(tmp_path / "a.sqlite").values()) < 1:
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.01)
        with paused(server):  # the first run stays mid-run, however slowly the second starts
            second = subprocess.run(
                args(f"http://localhost:{server.port}", "b.sqlite"), capture_output=True,
                text=True, timeout=120, env=_child_env(ENV), check=False,
                stdin=subprocess.DEVNULL, cwd=REPO)
        assert first.wait(120) == 0
        assert second.returncode == 2, second.stdout + second.stderr
        assert "another execute for site http://localhost:" in second.stderr
        assert_exactly_once(server.ledger(), [r.reference for r in rows], "SP-")
