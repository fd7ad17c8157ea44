"""The upload's dry run runs in the background: the upload answers at once, the run page shows
the dry run's progress and then its results, a failed dry run shows its error on the run page,
and a server restart never leaves a run "dry-running" for ever.

The site is the real sandbox served by uvicorn on a loopback port behind a gate that holds every
API request until the test opens it, so the dry run is provably still running when the upload
has answered (no sleeps: the test polls the run's progress until it names the check step).
"""

from __future__ import annotations

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

from batchpay.web import create_app as create_web_app


@pytest.fixture
def gated_site(tmp_path: Path) -> Iterator[tuple[Site, Gate]]:
    """The web app whose job's site is a real sandbox on a loopback port, behind a gate."""
    with gated_sandbox_site(tmp_path) as gated:
        yield gated


def test_the_upload_answers_at_once_and_the_run_page_follows_the_dry_run(
    gated_site: tuple[Site, Gate],
) -> None:
    site, gate = gated_site
    pat = site.client("pat")
    response = upload(pat, wait=False)
    assert response.status_code == 303  # answered while every API request is held
    run_id = run_id_of(response)
    progress = progress_until(pat, run_id, "Checking")
    assert progress["state"] == "dry-running", progress
    assert progress["step"].endswith("calls against 127.0.0.1"), progress
    rows = len(DEPOSITS.read_text().splitlines()) - 2  # the title line and the header
    assert [s["label"] for s in progress["steps"]] == ["Reading deposits.csv",
                                                       f"Validating {rows} rows"]
    page = pat.get(f"/runs/{run_id}").text
    assert "Dry run in progress" in page and progress["step"] in page
    assert "Request approval" not in page and "control totals" not in page
    refused = post(pat, f"/runs/{run_id}/request-approval")
    assert refused.status_code == 409  # type: ignore[attr-defined]
    assert "approval can be requested after a dry run" in refused.text  # type: ignore[attr-defined]

    gate.open.set()
    site.web.runs.wait(run_id)
    run = site.web.store.run(run_id)
    assert run["state"] == "dry-run", run["message"]
    assert site.web.runs.dry_running(run_id) is None  # nor its engine objects kept for ever
    assert pat.get(f"/runs/{run_id}/progress").json()["state"] == "dry-run"
    page = pat.get(f"/runs/{run_id}").text
    assert "Dry run in progress" not in page and "Request approval" in page
    assert "Would post <strong>8</strong> row(s)" in page
    again = upload(pat)  # the same file: the notice of the earlier run is kept
    assert again.headers["location"] == f"/runs/{run_id + 1}?same_as={run_id}"  # type: ignore
    assert "was uploaded before" in pat.get(again.headers["location"]).text  # type: ignore


def test_a_failed_dry_run_shows_its_error_on_the_run_page(site_: Site) -> None:
    pat = site_.client("pat")
    content = DEPOSITS.read_bytes().replace(b"Paid In", b"Credit")
    response = upload(pat, content=content, name="renamed.csv")
    assert response.status_code == 303
    run_id = run_id_of(response)
    run = site_.web.store.run(run_id)
    assert run["state"] == "error" and "Paid In" in run["message"], run
    page = pat.get(f"/runs/{run_id}")
    assert page.status_code == 200
    assert run["message"].replace("'", "&#39;").replace('"', "&#34;") in page.text
    assert "Dry run again" in page.text and "control totals" not in page.text
    assert post(pat, f"/runs/{run_id}/request-approval").status_code == 409
    assert post(site_.client("ann"), f"/runs/{run_id}/execute").status_code == 409


def test_a_dry_run_cut_short_by_a_restart_is_marked_and_can_run_again(site_: Site) -> None:
    pat = site_.client("pat")
    run_id = run_id_of(upload(pat))
    site_.web.store.update_run(run_id, state="dry-running", dry_report="")
    restarted = create_web_app(site_.settings)
    run = restarted.state.web.store.run(run_id)
    assert run["state"] == "error", run
    assert "server stopped during the dry run" in run["message"]
    site_.app = restarted
    pat = site_.client("pat")
    assert "Dry run again" in pat.get(f"/runs/{run_id}").text
    assert post(site_.client("ann"), f"/runs/{run_id}/dry-run").status_code == 403
    assert post(pat, f"/runs/{run_id}/dry-run").status_code == 303
    site_.web.runs.wait(run_id)
    run = site_.web.store.run(run_id)
    assert run["state"] == "dry-run" and run["message"] == "" and run["dry_report"], run
    assert "Would post <strong>8</strong> row(s)" in pat.get(f"/runs/{run_id}").text
    assert post(pat, f"/runs/{run_id}/dry-run").status_code == 409  # finished: not again


@pytest.fixture
def site_(tmp_path: Path) -> Site:
    return make_site(tmp_path)
