"""Execute re-checks the run in the background: the Execute POST answers at once with the run in
``checking``, the run page follows the re-check's steps, then the execute; when something changed
since approval the run page lists it (kept with the run: a restart or another person sees it);
a re-check that fails shows its one-line error on the run page.

The gated tests use the real sandbox served by uvicorn on a loopback port behind a gate that
holds every API request until the test opens it, so the re-check is provably still running when
the POST has answered (no sleeps: the test polls the run's progress until it names the step).
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from webkit import (
    DEPOSITS,
    Gate,
    Site,
    gated_sandbox_site,
    make_site,
    post,
    progress_until,
    run_id_of,
    upload,
)

from batchpay.api import RunOptions, run_and_report
from batchpay.sandbox import SandboxStore, synthetic_seed
from batchpay.web import create_app
from batchpay.web.store import Store


@pytest.fixture
def gated_site(tmp_path: Path) -> Iterator[tuple[Site, Gate]]:
    with gated_sandbox_site(tmp_path) as gated:
        yield gated


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return make_site(tmp_path)


def _approved(site: Site, content: bytes | None = None, name: str | None = None) -> int:
    pat = site.client("pat")
    run_id = run_id_of(upload(pat, content=content, name=name))
    assert site.web.store.run(run_id)["state"] == "dry-run"
    assert post(pat, f"/runs/{run_id}/request-approval").status_code == 303
    response = post(site.client("ann"), f"/runs/{run_id}/decide", {"decision": "approve"})
    assert response.status_code == 303
    return run_id


def _ledger(path: Path) -> list[dict[str, object]]:
    store = SandboxStore(path)
    try:
        return store.ledger()
    finally:
        store.close()


def _actions(site: Site, run_id: int) -> list[str]:
    return [e["action"] for e in reversed(site.web.store.audit_log(run_id=run_id))]


def test_the_execute_answers_at_once_and_the_run_page_follows_the_recheck(
    gated_site: tuple[Site, Gate], tmp_path: Path,
) -> None:
    site, gate = gated_site
    gate.open.set()
    run_id = _approved(site)
    gate.close()
    ann = site.client("ann")
    response = post(ann, f"/runs/{run_id}/execute")
    assert response.status_code == 303  # answered while every API request is held
    assert response.headers["location"] == f"/runs/{run_id}"  # type: ignore[attr-defined]
    progress = progress_until(ann, run_id, "Checking")
    assert progress["state"] == "checking", progress
    assert progress["step"].endswith("calls against 127.0.0.1"), progress
    rows = len(DEPOSITS.read_text().splitlines()) - 2  # the title line and the header
    assert [s["label"] for s in progress["steps"]] == ["Reading deposits.csv",
                                                       f"Validating {rows} rows"]
    page = ann.get(f"/runs/{run_id}").text
    assert "Re-checking before the execute" in page and progress["step"] in page
    assert "Execute on" not in page
    again = post(ann, f"/runs/{run_id}/execute")  # a double click
    assert again.status_code == 409 and "is checking" in again.text  # type: ignore[attr-defined]
    assert _ledger(tmp_path / "remote-sandbox.sqlite") == []

    gate.open.set()
    site.web.runs.wait(run_id)
    run = site.web.store.run(run_id)
    assert run["state"] == "executed", run["message"]
    assert len(_ledger(tmp_path / "remote-sandbox.sqlite")) == \
        run["exec_summary"]["counts"]["posted"] > 0
    assert site.web.runs.dry_running(run_id) is None  # nor the re-check's engine objects kept
    assert _actions(site, run_id) == ["upload", "dry run", "request approval", "approve",
                                      "execute refused", "dry run", "execute", "execute ended"]


def test_a_run_re_checking_shows_no_stop_and_a_stop_changes_nothing(
    gated_site: tuple[Site, Gate], tmp_path: Path,
) -> None:
    """The re-check sends nothing, so there is nothing to stop: the page offers no Stop button
    and a Stop posted anyway (an old page, a script) is refused, naming the state; the execute
    then goes on as approved."""
    site, gate = gated_site
    gate.open.set()
    run_id = _approved(site)
    gate.close()
    ann = site.client("ann")
    assert post(ann, f"/runs/{run_id}/execute").status_code == 303
    assert progress_until(ann, run_id, "Checking")["state"] == "checking"
    page = ann.get(f"/runs/{run_id}").text
    assert "Re-checking before the execute" in page
    assert f"/runs/{run_id}/stop" not in page and ">Stop<" not in page
    stop = post(ann, f"/runs/{run_id}/stop")
    assert stop.status_code == 409  # type: ignore[attr-defined]
    assert f"run {run_id} is checking, not executing" in stop.text  # type: ignore[attr-defined]
    assert site.web.store.run(run_id)["state"] == "checking"

    gate.open.set()
    site.web.runs.wait(run_id)
    assert site.web.store.run(run_id)["state"] == "executed"
    assert "stop" not in _actions(site, run_id)


def test_rows_that_changed_since_approval_are_listed_on_the_run_page(site: Site) -> None:
    run_id = _approved(site)
    # Meanwhile someone posts the same statement from the command line.
    run_and_report(site.settings.jobs_dir / "bank-deposits" / "job.yaml", DEPOSITS,
                   RunOptions(mode="execute", sandbox_state=site.settings.sandbox_state,
                              journal_path=site.settings.journal, env={}),
                   reports_dir=site.tmp / "cli-reports")
    posted_by_cli = len(_ledger(site.settings.sandbox_state))
    ann = site.client("ann")
    response = post(ann, f"/runs/{run_id}/execute")
    assert response.status_code == 303
    site.web.runs.wait(run_id)
    run = site.web.store.run(run_id)
    assert run["state"] == "pending" and "would now go differently" in run["message"], run
    assert len(_ledger(site.settings.sandbox_state)) == posted_by_cli
    changes = ann.get(f"/runs/{run_id}").text.split('id="changes"')[1].split("</section>")[0]
    assert "Changed since approval" in changes
    assert "line 3" in changes and "already posted" in changes
    assert "more." not in changes
    assert "approval void" in _actions(site, run_id)

    # Still listed for the approver after a restart; gone once the run is approved again.
    site.app = create_app(site.settings)
    ann = site.client("ann")
    assert 'id="changes"' in ann.get(f"/runs/{run_id}").text
    assert post(ann, f"/runs/{run_id}/decide", {"decision": "approve"}).status_code == 303
    assert 'id="changes"' not in ann.get(f"/runs/{run_id}").text
    assert post(ann, f"/runs/{run_id}/execute").status_code == 303
    site.web.runs.wait(run_id)
    assert site.web.store.run(run_id)["state"] == "executed"
    assert len(_ledger(site.settings.sandbox_state)) == posted_by_cli


def test_the_list_of_changes_is_bounded(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    spec = site.settings.jobs_dir / "bank-deposits" / "job.yaml"
    spec.write_text(spec.read_text() + "\nsite: {rate_per_minute: 100000}\n")
    n = 205
    store = SandboxStore(site.settings.sandbox_state)
    store.load_seed(synthetic_seed(n, prefix="INV-"))
    store.close()
    lines = ["Statement", "Date,Reference ID,Description,Paid In,Paid Out,Currency,Balance"]
    lines += [f"03/11/2026,REF-{i},PAY INV-{i:06d},100.00,,USD,0" for i in range(1, n + 1)]
    content = "\n".join(lines).encode()
    run_id = _approved(site, content=content, name="big.csv")
    statement = tmp_path / "big.csv"
    statement.write_bytes(content)
    run_and_report(spec, statement,
                   RunOptions(mode="execute", sandbox_state=site.settings.sandbox_state,
                              journal_path=site.settings.journal, env={}),
                   reports_dir=tmp_path / "cli-reports")
    ann = site.client("ann")
    assert post(ann, f"/runs/{run_id}/execute").status_code == 303
    site.web.runs.wait(run_id)
    assert f"{n} row(s) would now go differently" in site.web.store.run(run_id)["message"]
    changes = ann.get(f"/runs/{run_id}").text.split('id="changes"')[1].split("</section>")[0]
    assert len(re.findall(r"<tr><td>line \d+", changes)) == 200
    assert "… and 5 more." in changes


def test_a_recheck_that_fails_shows_its_error_on_the_run_page(
    gated_site: tuple[Site, Gate], tmp_path: Path,
) -> None:
    site, gate = gated_site
    gate.open.set()
    run_id = _approved(site)
    site.settings.env.clear()  # the server lost its API key since the approval
    ann = site.client("ann")
    assert post(ann, f"/runs/{run_id}/execute").status_code == 303
    site.web.runs.wait(run_id)
    run = site.web.store.run(run_id)
    assert run["state"] == "approved" and "CHARGEBEE_API_KEY" in run["message"], run
    assert "\n" not in run["message"]
    page = ann.get(f"/runs/{run_id}").text
    assert 'role="alert">' + run["message"] in page and "Execute on" in page
    assert "Traceback" not in page and 'id="changes"' not in page
    assert _actions(site, run_id)[-1] == "execute refused"
    assert _ledger(tmp_path / "remote-sandbox.sqlite") == []


def test_a_data_folder_from_before_keeps_its_runs_and_gains_the_changes(tmp_path: Path) -> None:
    path = tmp_path / "web.sqlite"
    with sqlite3.connect(path) as db:  # the runs table as the first release made it
        db.execute(
            "CREATE TABLE runs (id INTEGER PRIMARY KEY, job TEXT NOT NULL, spec_sha256 TEXT "
            "NOT NULL, file_name TEXT NOT NULL, file_sha256 TEXT NOT NULL, stored_path TEXT NOT "
            "NULL, size INTEGER NOT NULL, uploaded_by TEXT NOT NULL, uploaded_at REAL NOT NULL, "
            "state TEXT NOT NULL, target TEXT NOT NULL DEFAULT '', live INTEGER NOT NULL "
            "DEFAULT 0, dry_hash TEXT NOT NULL DEFAULT '', dry_report TEXT NOT NULL DEFAULT '', "
            "dry_summary TEXT NOT NULL DEFAULT '{}', exec_report TEXT NOT NULL DEFAULT '', "
            "exec_summary TEXT NOT NULL DEFAULT '{}', executed_by TEXT NOT NULL DEFAULT '', "
            "executed_at REAL, message TEXT NOT NULL DEFAULT '')")
        db.execute("INSERT INTO runs (job, spec_sha256, file_name, file_sha256, stored_path, "
                   "size, uploaded_by, uploaded_at, state) VALUES ('j', 's', 'f.csv', 'h', "
                   "'/x', 1, 'pat', 0, 'pending')")
    db.close()
    store = Store(path)
    try:
        run = store.run(1)
        assert run is not None and run["file_name"] == "f.csv" and run["changes"] == {}
        store.update_run(1, changes='{"rows": [], "more": 3}')
        assert store.run(1)["changes"] == {"rows": [], "more": 3}  # type: ignore[index]
    finally:
        store.close()
    Store(path).close()  # opened again: nothing more to add
