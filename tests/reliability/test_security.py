"""Issue 8 item 4: the key never leaks (even with debug logging), plain http only to loopback,
path parameters encoded, formula injection neutralised, reports and journal owner-only."""

from __future__ import annotations

import asyncio
import os
import stat
import subprocess
from pathlib import Path

import httpx
import pytest
from bp_testkit import (
    PYTHON,
    REPO,
    SECRET_KEY,
    CountingTransport,
    Deposit,
    _child_env,
    batchpay_args,
    key_forms,
    run_batchpay,
    run_options,
    write_csv,
    write_job,
)
from openpyxl import load_workbook

from batchpay.api import run_and_report
from batchpay.chargebee.client import ChargebeeClient, base_url_for
from batchpay.chargebee.encode import encode
from batchpay.chargebee.errors import ConfigError, NotFoundError
from batchpay.records import Outcome
from batchpay.run import run_job
from batchpay.sandbox import DEFAULT_API_KEY, SandboxStore, create_app, sandbox_transport
from batchpay.target import sandbox_target

EVIL_IDS = ["../VICTIM", "..%2FVICTIM", "VICTIM/record_payment", "x/../../invoices/VICTIM",
            "VICTIM%2Frecord_payment", "VICTIM?x=1", "VICTIM#frag", "..", ".", "%2e%2e",
            "VICTIM/../VICTIM", "VICTIM\\..\\x"]


@pytest.mark.parametrize("url", ["http://example.com", "http://10.0.0.5:8080",
                                 "http://localhost.evil.com", "http://127.0.0.1.nip.io",
                                 "http://[2001:db8::1]"])
def test_plain_http_refused_for_non_loopback(url: str) -> None:
    with pytest.raises(ConfigError, match="plain http"):
        base_url_for(base_url=url)


@pytest.mark.parametrize("url", ["http://127.0.0.1:9", "http://localhost:9", "http://[::1]:9"])
def test_plain_http_allowed_for_loopback(url: str) -> None:
    assert base_url_for(base_url=url).startswith(url)


def test_cli_refuses_plain_http_to_a_remote_host(tmp_path: Path) -> None:
    job = write_job(tmp_path / "job.yaml")
    data = write_csv(tmp_path / "d.csv", [Deposit("INV-1", "1.00", "R-1")])
    args = batchpay_args(job, data, tmp_path, None, "--base-url", "http://example.com")
    done = run_batchpay(args)
    assert done.returncode == 2
    assert "plain http" in done.stderr and "Traceback" not in done.stderr
    assert SECRET_KEY not in done.stdout + done.stderr


def _victim_store() -> SandboxStore:
    store = SandboxStore(":memory:")
    store.load_seed({"customers": [{"id": "c1", "currency": "USD"}],
                     "invoices": [{"id": "VICTIM", "customer": "c1", "status": "payment_due",
                                   "total": 10000}]})
    return store


def test_invoice_ids_with_path_characters_reach_only_their_own_endpoint() -> None:
    """Each id is sent as one encoded path segment: the sandbox answers 404 for every one,
    and neither the VICTIM invoice nor anything else is touched."""
    store = _victim_store()
    transport = CountingTransport(sandbox_transport(create_app(store)))

    async def main() -> list[str]:
        codes: list[str] = []
        async with ChargebeeClient("http://127.0.0.1/api/v2", DEFAULT_API_KEY,
                                   transport=transport) as client:
            for evil in EVIL_IDS:
                request = encode("record_payment", "v2", {
                    "invoice_id": evil, "amount": 100, "payment_method": "cash"})
                try:
                    await client.send(request, idempotency_key=f"k-{len(codes)}")
                    codes.append("applied!")
                except NotFoundError as exc:
                    codes.append(str(exc.api_error_code))
                except ValueError:
                    codes.append("refused by client")
        return codes

    codes = asyncio.run(main())
    assert "applied!" not in codes
    assert store.ledger() == []
    assert store.invoice("VICTIM")["amount_due"] == 10000  # type: ignore[index]
    for raw in transport.raw_paths:
        head, _, segment_and_rest = raw.partition("/api/v2/invoices/")
        segment, _, action = segment_and_rest.partition("/")
        assert head == "" and action == "record_payment", raw
        assert segment not in (".", "..") and "?" not in raw and "#" not in raw


def test_path_ids_in_a_file_are_not_found_and_nothing_is_posted(tmp_path: Path) -> None:
    store = _victim_store()
    rows = [Deposit(evil, "1.00", f"R-{i}") for i, evil in enumerate(EVIL_IDS)]
    job, data = write_job(tmp_path / "job.yaml"), write_csv(tmp_path / "d.csv", rows)
    result = run_job(job, data, run_options("execute", tmp_path, target=sandbox_target(store),
                                            skip_invalid=True))
    assert store.ledger() == []
    assert all(o.outcome in (Outcome.FAILED, Outcome.INVALID) for o in result.outcomes)


FORMULAS = ['=HYPERLINK("http://evil.example","click")', "+SUM(1,2)", "-2+3", "@SUM(A1)",
            "=cmd|' /C calc'!A0", "\t=1+1", "\r=1+1", "＝1+1"]


def test_formula_injection_neutralised_in_every_workbook_cell(tmp_path: Path) -> None:
    rows = [Deposit("INV-1", "1.00", f"{f}-{i}", note=f) for i, f in enumerate(FORMULAS)]
    rows += [Deposit(f, "1.00", f"R-{i}") for i, f in enumerate(FORMULAS)]  # as invoice ids
    rows += [Deposit("INV-1", f, f"A-{i}") for i, f in enumerate(FORMULAS)]  # as amounts
    job, data = write_job(tmp_path / "job.yaml"), write_csv(tmp_path / "d.csv", rows)
    store = _victim_store()
    for mode in ("dry-run", "execute"):
        report = run_and_report(job, data, run_options(
            mode, tmp_path, target=sandbox_target(store), skip_invalid=True),
            reports_dir=tmp_path / "reports")
        book = load_workbook(report.path)
        seen = 0
        for sheet in book.worksheets:
            for row in sheet.iter_rows():
                for cell in row:
                    assert cell.data_type != "f", f"{sheet.title}!{cell.coordinate}: {cell.value}"
                    if isinstance(cell.value, str) and any(f in cell.value for f in FORMULAS):
                        seen += 1
        assert seen >= len(FORMULAS)  # the values are there, as text


def test_reports_and_journal_are_owner_only(tmp_path: Path) -> None:
    job = write_job(tmp_path / "job.yaml")
    data = write_csv(tmp_path / "d.csv", [Deposit("NOPE", "1.00", "R-1")])
    done = subprocess.run(
        ["sh", "-c", 'umask 022 && exec "$@"', "sh",
         *batchpay_args(job, data, tmp_path, None, "--execute", "--yes")],
        capture_output=True, text=True, cwd=REPO, env=_child_env(), check=False, timeout=120)
    assert done.returncode == 1, done.stderr
    files = [*(tmp_path / "reports").iterdir(), tmp_path / "journal.sqlite"]
    assert {p.suffix for p in files} >= {".xlsx", ".json", ".sqlite"}
    loose = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files
             if stat.S_IMODE(p.stat().st_mode) & 0o077}
    assert loose == {}


def test_key_absent_with_debug_logging(tmp_path: Path) -> None:
    """httpx/httpcore debug logs on, a real loopback server, errors included: no key."""
    from bp_testkit import sandbox_server, synthetic_rows

    job = write_job(tmp_path / "job.yaml")
    data = write_csv(tmp_path / "d.csv", [*synthetic_rows(5, "DBG-"), Deposit("NOPE", "1", "R")])
    with sandbox_server(tmp_path, faults={"error_5xx_rate": 0.5, "seed": 2}) as server:
        args = batchpay_args(job, data, tmp_path, server, "--execute", "--yes", "--skip-invalid")
        code = ("import logging, sys; logging.basicConfig(level=logging.DEBUG); "
                "from batchpay.cli import main; sys.argv = ['batchpay'] + sys.argv[1:]; main()")
        done = subprocess.run([PYTHON, "-c", code, *args[3:]], capture_output=True, text=True,
                              cwd=REPO, env=_child_env({"CHARGEBEE_API_KEY": SECRET_KEY}),
                              timeout=120, check=False)
    output = done.stdout + done.stderr
    assert done.returncode in (0, 1), output[-2000:]
    assert "HTTP Request" in output or "httpcore" in output  # debug logging was really on
    assert [k for k in key_forms(SECRET_KEY) if k in output] == []
    assert os.environ.get("CHARGEBEE_API_KEY") != SECRET_KEY


def test_repr_of_client_and_errors_hide_the_key() -> None:
    client = ChargebeeClient("http://127.0.0.1/api/v2", SECRET_KEY,
                             transport=httpx.MockTransport(lambda r: httpx.Response(401, json={
                                 "message": f"bad key {SECRET_KEY}", "type": "x",
                                 "api_error_code": "api_authentication_failed"})))

    async def main() -> str:
        try:
            await client.list_invoices(["A"])
        except Exception as exc:
            return f"{exc!r} {exc}"
        finally:
            await client.aclose()
        return ""

    text = asyncio.run(main())
    assert text and SECRET_KEY not in text and SECRET_KEY not in repr(client)
