"""End to end in a real browser: Playwright driving Debian's Chromium against ``batchpay web``
served by uvicorn on a loopback port, the built-in sandbox as the site.

A preparer uploads the sample bank statement and requests approval; an approver approves and
executes; the result workbook is downloaded and its Posted rows checked against the sandbox's
ledger; the same file run again posts nothing. Screenshots of each step go to
``docs/web/`` when BATCHPAY_SCREENSHOTS=1 (else to the test's temporary folder).

Without Chromium the test is skipped, unless BATCHPAY_REQUIRE_BROWSER=1 (set by .ci/run):
then it fails, because a skipped browser test is not a passing one.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import openpyxl
import pytest
import uvicorn
from webkit import (
    DEPOSITS,
    PASSWORD,
    ROOT,
    SAMPLES,
    Gate,
    gated_sandbox_site,
    make_site,
    serving,
)

from batchpay.api import RunOptions, run_and_report
from batchpay.money import currency_exponent
from batchpay.sandbox import DEFAULT_API_KEY, SandboxStore, load_seed_file
from batchpay.sandbox import create_app as create_sandbox_app
from batchpay.target import DEFAULT_SANDBOX_SEED
from batchpay.web import Settings, create_app
from batchpay.web.security import hash_password

SHOTS = ROOT / "docs" / "web"


def chromium_binary() -> str | None:
    """The real Chromium binary of Debian's package (the ``chromium`` on PATH is a wrapper)."""
    if os.environ.get("CHROMIUM_PATH"):
        given = os.environ["CHROMIUM_PATH"]
        return given if Path(given).is_file() else None
    if shutil.which("dpkg") is None:
        return None
    listed = subprocess.run(["dpkg", "-L", "chromium"], capture_output=True, text=True)
    found = [line for line in listed.stdout.splitlines() if line.endswith("chromium/chromium")]
    return found[0] if found and Path(found[0]).is_file() else None


def _browser_or_skip() -> str:
    binary = chromium_binary()
    problem = "" if binary else "no Chromium (apt-get install chromium, or set CHROMIUM_PATH)"
    if not problem:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "playwright is not installed (pip install -e '.[test]')"
    if problem:
        if os.environ.get("BATCHPAY_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser test required (BATCHPAY_REQUIRE_BROWSER=1) but {problem}")
        pytest.skip(problem)
    assert binary is not None
    return binary


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, Settings]]:
    jobs = tmp_path / "jobs"
    shutil.copytree(SAMPLES / "bank-deposits", jobs / "bank-deposits")
    settings = Settings(data_dir=tmp_path / "data", jobs_dir=jobs,
                        sandbox_state=tmp_path / "sandbox.sqlite",
                        journal=tmp_path / "journal.sqlite", env={})
    app = create_app(settings)
    for name, role in (("pat", "preparer"), ("ann", "approver")):
        app.state.web.store.add_user(name, role, hash_password(PASSWORD))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", settings
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def test_preparer_uploads_approver_approves_executes_and_rerun_posts_nothing(
    served: tuple[str, Settings], tmp_path: Path
) -> None:
    binary = _browser_or_skip()
    from playwright.sync_api import expect, sync_playwright

    base, settings = served
    shots = SHOTS if os.environ.get("BATCHPAY_SCREENSHOTS") == "1" else tmp_path / "shots"
    shots.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=binary, headless=True,
                                    args=["--disable-gpu"])
        try:
            preparer = browser.new_context(accept_downloads=True,
                                           viewport={"width": 1200, "height": 800})
            approver = browser.new_context(accept_downloads=True,
                                           viewport={"width": 1200, "height": 800})
            pat, ann = preparer.new_page(), approver.new_page()
            for page in (pat, ann):
                page.set_default_timeout(30_000)

            def shot(page: object, name: str) -> None:  # the viewport: small PNGs for the docs
                page.screenshot(path=str(shots / f"{name}.png"))  # type: ignore[attr-defined]

            # The preparer signs in (an unauthenticated page sends them to sign-in first).
            pat.goto(f"{base}/runs/new")
            expect(pat.get_by_role("heading", name="Sign in")).to_be_visible()
            pat.fill("input[name=name]", "pat")
            pat.fill("input[name=password]", PASSWORD)
            shot(pat, "01-sign-in")
            pat.get_by_role("button", name="Sign in").click()
            expect(pat.get_by_role("heading", name="New run")).to_be_visible()

            # Uploads the month's statement: the upload answers at once with the run's page,
            # which follows the dry run in the background and shows its results when it ends.
            pat.select_option("select[name=job]", "bank-deposits/job.yaml")
            pat.set_input_files("input[name=file]", str(DEPOSITS))
            shot(pat, "02-upload")
            pat.get_by_role("button", name="Upload and dry-run").click()
            expect(pat.locator(".runhead .state")).to_have_text("dry-run", timeout=60_000)
            totals = pat.locator("table.totals")
            for currency in ("USD", "EUR", "GBP"):
                expect(totals).to_contain_text(currency)
            expect(totals).not_to_contain_text("does not balance")
            shot(pat, "03-review")
            run_url = pat.url
            pat.get_by_role("button", name="Request approval").click()
            expect(pat.locator(".runhead h1")).to_contain_text("pending")
            expect(pat.locator(".actions")).to_contain_text("someone other than you")

            # The approver signs in, sees the run waiting, approves it and executes it.
            ann.goto(f"{base}/")
            ann.fill("input[name=name]", "ann")
            ann.fill("input[name=password]", PASSWORD)
            ann.get_by_role("button", name="Sign in").click()
            expect(ann.get_by_role("heading", name="Waiting for approval")).to_be_visible()
            shot(ann, "04-waiting-for-approval")
            ann.goto(run_url)
            ann.fill("input[name=comment]", "Matches the November statement")
            shot(ann, "05-approve")
            ann.get_by_role("button", name="Approve").click()
            expect(ann.locator(".runhead h1")).to_contain_text("approved")
            execute = ann.get_by_role("button", name="Execute on built-in sandbox")
            expect(execute).to_be_visible()
            execute.click()
            expect(ann.locator(".runhead h1")).to_contain_text("executed", timeout=60_000)
            shot(ann, "06-result")

            # The result workbook, downloaded: its Posted rows are what the sandbox applied.
            with ann.expect_download() as download:
                ann.locator("#exec-workbook").click()
            assert download.value.suggested_filename.endswith("-execute.xlsx")
            workbook = tmp_path / download.value.suggested_filename
            download.value.save_as(workbook)
            ledger = _ledger(settings)
            posted = _posted_rows(workbook)
            assert posted, "the sample has rows to post"
            assert sorted(posted) == sorted(
                (e["invoice_id"], e["idempotency_key"], e["transaction_id"], e["amount"])
                for e in ledger
            )

            # The same file again: the page says so, and nothing is posted twice.
            pat.goto(f"{base}/runs/new")
            pat.select_option("select[name=job]", "bank-deposits/job.yaml")
            pat.set_input_files("input[name=file]", str(DEPOSITS))
            pat.get_by_role("button", name="Upload and dry-run").click()
            expect(pat.locator(".runhead .state")).to_have_text("dry-run", timeout=60_000)
            expect(pat.locator(".alert.warn")).to_contain_text("was uploaded before")
            expect(pat.locator("table.totals")).not_to_contain_text("does not balance")
            shot(pat, "07-same-file-again")
            pat.get_by_role("button", name="Request approval").click()
            ann.goto(pat.url.split("?")[0])
            ann.get_by_role("button", name="Approve").click()
            ann.get_by_role("button", name="Execute on built-in sandbox").click()
            expect(ann.locator(".runhead h1")).to_contain_text("executed", timeout=60_000)
            assert _ledger(settings) == ledger, "re-running the same file must post nothing"
            expect(ann.locator("table.totals")).to_contain_text("skipped")

            # History, the audit log and a job's page.
            ann.goto(f"{base}/history")
            expect(ann.locator("table.grid")).to_contain_text("executed")
            shot(ann, "08-history")
            ann.goto(f"{base}/audit")
            expect(ann.locator("table.grid")).to_contain_text("download")
            shot(ann, "09-audit-log")
            pat.goto(f"{base}/jobs/bank-deposits/job.yaml")
            expect(pat.get_by_role("heading", name="Field mapping")).to_be_visible()
            shot(pat, "10-job")
        finally:
            browser.close()


def test_the_run_page_follows_the_dry_run_in_the_background(tmp_path: Path) -> None:
    """The job's site is a real sandbox on a loopback port behind a gate holding its API
    requests: the run page shows the dry run in progress (its step updated by the page's
    polling), then reloads itself with the results once the gate opens."""
    binary = _browser_or_skip()
    from playwright.sync_api import expect, sync_playwright

    shots = SHOTS if os.environ.get("BATCHPAY_SCREENSHOTS") == "1" else tmp_path / "shots"
    shots.mkdir(parents=True, exist_ok=True)
    store = SandboxStore(tmp_path / "remote-sandbox.sqlite")
    store.load_seed(load_seed_file(DEFAULT_SANDBOX_SEED))
    gate = Gate(create_sandbox_app(store))
    with serving(gate) as sandbox_port, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=binary, headless=True,
                                    args=["--disable-gpu"])
        try:
            site = make_site(tmp_path, env={"CHARGEBEE_API_KEY": DEFAULT_API_KEY})
            spec = site.settings.jobs_dir / "bank-deposits" / "job.yaml"
            spec.write_text(spec.read_text() + "\nsite: {base_url: "
                            f"'http://127.0.0.1:{sandbox_port}/api/v2'}}\n")
            with serving(site.app) as web_port:
                pat = browser.new_page(viewport={"width": 1200, "height": 800})
                pat.set_default_timeout(30_000)
                pat.goto(f"http://127.0.0.1:{web_port}/runs/new")
                pat.fill("input[name=name]", "pat")
                pat.fill("input[name=password]", PASSWORD)
                pat.get_by_role("button", name="Sign in").click()
                pat.select_option("select[name=job]", "bank-deposits/job.yaml")
                pat.set_input_files("input[name=file]", str(DEPOSITS))
                pat.get_by_role("button", name="Upload and dry-run").click()
                expect(pat.locator(".runhead .state")).to_have_text("dry-running")
                expect(pat.locator("#progress h2")).to_have_text("Dry run in progress")
                expect(pat.locator("#d-step")).to_contain_text("Checking")
                expect(pat.locator("#d-steps li")).to_have_count(2)
                expect(pat.get_by_role("button", name="Request approval")).to_have_count(0)
                pat.screenshot(path=str(shots / "02b-dry-run-in-progress.png"))
                gate.open.set()
                expect(pat.locator(".runhead .state")).to_have_text("dry-run")
                expect(pat.locator("#progress")).to_have_count(0)
                expect(pat.locator("table.totals")).to_contain_text("USD")
                expect(pat.get_by_role("button", name="Request approval")).to_be_visible()
                pat.screenshot(path=str(shots / "02c-dry-run-finished.png"))
        finally:
            gate.open.set()
            browser.close()
    store.close()


def test_the_run_page_follows_the_execute_recheck_and_lists_what_changed(tmp_path: Path) -> None:
    """Execute answers at once: the run page follows the re-check (held by the gate in front of
    the site), then lists the rows that changed since approval (someone posted the statement
    from the command line meanwhile); approved again, the execute is followed to its end."""
    binary = _browser_or_skip()
    from playwright.sync_api import expect, sync_playwright

    shots = SHOTS if os.environ.get("BATCHPAY_SCREENSHOTS") == "1" else tmp_path / "shots"
    shots.mkdir(parents=True, exist_ok=True)
    with gated_sandbox_site(tmp_path) as (site, gate), sync_playwright() as p:
        gate.open.set()
        browser = p.chromium.launch(executable_path=binary, headless=True,
                                    args=["--disable-gpu"])
        try:
            with serving(site.app) as web_port:
                base = f"http://127.0.0.1:{web_port}"
                pat, ann = (browser.new_page(viewport={"width": 1200, "height": 800})
                            for _ in range(2))
                for page, name in ((pat, "pat"), (ann, "ann")):
                    page.set_default_timeout(30_000)
                    page.goto(f"{base}/runs/new")
                    page.fill("input[name=name]", name)
                    page.fill("input[name=password]", PASSWORD)
                    page.get_by_role("button", name="Sign in").click()
                pat.select_option("select[name=job]", "bank-deposits/job.yaml")
                pat.set_input_files("input[name=file]", str(DEPOSITS))
                pat.get_by_role("button", name="Upload and dry-run").click()
                expect(pat.locator(".runhead .state")).to_have_text("dry-run")
                pat.get_by_role("button", name="Request approval").click()
                expect(pat.locator(".runhead .state")).to_have_text("pending")
                ann.goto(pat.url.split("?")[0])
                ann.get_by_role("button", name="Approve").click()
                expect(ann.locator(".runhead .state")).to_have_text("approved")

                # Meanwhile someone posts the same statement from the command line (in a thread
                # of its own: Playwright's event loop runs in this one).
                spec = site.settings.jobs_dir / "bank-deposits" / "job.yaml"
                cli = threading.Thread(target=run_and_report, args=(spec, DEPOSITS, RunOptions(
                    mode="execute", sandbox_state=site.settings.sandbox_state,
                    journal_path=site.settings.journal, env=dict(site.settings.env))),
                    kwargs={"reports_dir": tmp_path / "cli-reports"})
                cli.start()
                cli.join(60)
                ledger = _remote_ledger(tmp_path)
                assert ledger, "the command line posted the sample's rows"

                gate.close()
                ann.get_by_role("button", name="Execute on").click()
                expect(ann.locator(".runhead .state")).to_have_text("checking")
                expect(ann.locator("#progress h2")).to_have_text("Re-checking before the execute")
                expect(ann.locator("#d-step")).to_contain_text("Checking")
                expect(ann.locator("#d-steps li")).to_have_count(2)
                ann.screenshot(path=str(shots / "06a-execute-re-checking.png"))
                gate.open.set()
                expect(ann.locator(".runhead .state")).to_have_text("pending")
                expect(ann.locator("#progress")).to_have_count(0)
                expect(ann.locator("#changes h2")).to_have_text("Changed since approval")
                expect(ann.locator("#changes")).to_contain_text("already posted")
                expect(ann.locator(".alert.bad")).to_contain_text("would now go differently")
                ann.screenshot(path=str(shots / "06b-changed-since-approval.png"))

                # Approved again (every row now skipped), executed to its end: nothing posted.
                ann.get_by_role("button", name="Approve").click()
                expect(ann.locator(".runhead .state")).to_have_text("approved")
                expect(ann.locator("#changes")).to_have_count(0)
                ann.get_by_role("button", name="Execute on").click()
                expect(ann.locator(".runhead .state")).to_have_text("executed")
                expect(ann.locator("table.totals")).to_contain_text("skipped")
                assert _remote_ledger(tmp_path) == ledger
        finally:
            gate.open.set()
            browser.close()


def _remote_ledger(tmp_path: Path) -> list[dict[str, object]]:
    store = SandboxStore(tmp_path / "remote-sandbox.sqlite")
    try:
        return store.ledger()
    finally:
        store.close()


def _ledger(settings: Settings) -> list[dict[str, object]]:
    store = SandboxStore(settings.sandbox_state)
    try:
        return store.ledger()
    finally:
        store.close()


def _posted_rows(workbook: Path) -> list[tuple[object, ...]]:
    book = openpyxl.load_workbook(workbook, read_only=True)
    try:
        rows = book["Posted"].iter_rows(values_only=True)
        header = list(next(rows))
        column = {name: header.index(name) for name in
                  ("Invoice id", "Idempotency key", "Chargebee transaction id", "Amount",
                   "Currency")}
        return [
            (row[column["Invoice id"]], row[column["Idempotency key"]],
             row[column["Chargebee transaction id"]],
             int(Decimal(str(row[column["Amount"]]))
                 * 10 ** currency_exponent(str(row[column["Currency"]]))))
            for row in rows
        ]
    finally:
        book.close()
