"""Route tests (Starlette's TestClient): every page, every refusal, the approval binding."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest
from webkit import (
    DEPOSITS,
    PASSWORD,
    SAMPLES,
    Site,
    csrf_of,
    make_site,
    post,
    run_id_of,
    sign_in,
    upload,
)

from batchpay.api import RunOptions, run_and_report
from batchpay.money import UnknownCurrency, currency_exponent
from batchpay.sandbox import DEFAULT_API_KEY, SandboxStore, synthetic_seed
from batchpay.siteid import sandbox_identity
from batchpay.sitestate import default_state_dir, site_lock
from batchpay.web.security import SESSION_COOKIE

PAGES = ["/", "/jobs", "/jobs/bank-deposits/job.yaml", "/runs/new", "/runs/1", "/history",
         "/audit", "/users", "/runs/1/dry.xlsx", "/runs/1/progress"]
POSTS = ["/runs", "/runs/1/request-approval", "/runs/1/decide", "/runs/1/execute",
         "/runs/1/stop", "/jobs", "/users", "/signout"]


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return make_site(tmp_path)


def _pending_run(site: Site, preparer: str = "pat") -> int:
    client = site.client(preparer)
    run_id = run_id_of(upload(client))
    assert post(client, f"/runs/{run_id}/request-approval").status_code == 303
    return run_id


def _approved_run(site: Site) -> int:
    run_id = _pending_run(site)
    response = post(site.client("ann"), f"/runs/{run_id}/decide",
                    {"decision": "approve", "comment": "fine"})
    assert response.status_code == 303
    return run_id


def _ledger(site: Site) -> list[dict[str, object]]:
    store = SandboxStore(site.settings.sandbox_state)
    try:
        return store.ledger()
    finally:
        store.close()


def _execute(site: Site, run_id: int, user: str = "ann") -> object:
    response = post(site.client(user), f"/runs/{run_id}/execute")
    site.web.runs.wait(run_id)
    return response


def _changes_shown(site: Site, run_id: int) -> str:
    """The run page's list of what changed since approval."""
    page = site.client("ann").get(f"/runs/{run_id}").text
    assert 'id="changes"' in page, "no changes listed on the run page"
    return page.split('id="changes"')[1].split("</section>")[0]


# signed out

@pytest.mark.parametrize("page", PAGES)
def test_every_page_sends_a_signed_out_visitor_to_sign_in(site: Site, page: str) -> None:
    response = site.client().get(page)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/signin?next=")


@pytest.mark.parametrize("url", POSTS)
def test_every_post_is_refused_signed_out(site: Site, url: str) -> None:
    client = site.client()
    token = csrf_of(client.get("/signin").text)
    assert client.post(url, data={"csrf": token}).status_code == 403


def test_every_page_renders_for_an_admin(site: Site) -> None:
    client = site.client("ada")
    run_id_of(upload(client))
    for page in PAGES:
        response = client.get(page)
        assert response.status_code == 200, (page, response.text[:300])
    for asset in ("/static/style.css", "/static/progress.js"):  # vendored: no CDN
        assert client.get(asset).status_code == 200
    assert client.get("/runs/1/progress").json()["state"] == "dry-run"


# sign-in, session cookie, rate limit

def test_sign_in_sets_a_signed_httponly_samesite_strict_cookie(site: Site) -> None:
    client = site.client()
    response = sign_in(client, "pat")
    assert response.status_code == 303
    cookie = response.headers["set-cookie"]
    assert f"{SESSION_COOKIE}=" in cookie
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP on loopback: a Secure cookie would never return
    assert client.get("/").status_code == 200


def test_the_cookie_is_secure_when_served_over_https(site: Site) -> None:
    from starlette.testclient import TestClient

    response = TestClient(site.app, base_url="https://testserver").get("/signin")
    assert "Secure" in response.headers["set-cookie"]


def test_a_tampered_cookie_is_a_signed_out_visitor(site: Site) -> None:
    client = site.client("pat")
    value = client.cookies[SESSION_COOKIE]
    body, signature = value.rsplit(".", 1)
    forged = body[:-2] + ("AA" if body[-2:] != "AA" else "BB")
    client.cookies.set(SESSION_COOKIE, f"{forged}.{signature}")
    assert client.get("/").status_code == 303


def test_wrong_password_is_refused_and_never_stored(site: Site) -> None:
    client = site.client()
    response = sign_in(client, "pat", "not-the-password-at-all")
    assert response.status_code == 401
    assert "Wrong name or password" in response.text
    assert client.get("/").status_code == 303
    entries = site.web.store.audit_log(action="sign in failed")
    assert [e["user"] for e in entries] == ["pat"]
    assert b"not-the-password-at-all" not in site.web.store.path.read_bytes()
    assert PASSWORD.encode() not in site.web.store.path.read_bytes()


def test_sign_in_is_rate_limited_even_for_the_right_password(site: Site) -> None:
    client = site.client()
    for _ in range(5):
        assert sign_in(client, "pat", "wrong-password-here").status_code == 401
    response = sign_in(client, "pat")
    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.text


def test_sign_in_never_redirects_off_site(site: Site) -> None:
    client = site.client()
    token = csrf_of(client.get("/signin").text)
    response = client.post("/signin", data={"name": "pat", "password": PASSWORD,
                                            "csrf": token, "next": "//evil.example/x"})
    assert response.headers["location"] == "/"


def test_sign_in_without_the_csrf_token_is_refused(site: Site) -> None:
    client = site.client()
    client.get("/signin")
    response = client.post("/signin", data={"name": "pat", "password": PASSWORD})
    assert response.status_code == 403


# CSRF and roles

@pytest.mark.parametrize("url", POSTS)
def test_every_post_without_the_csrf_token_is_refused(site: Site, url: str) -> None:
    client = site.client("ada")
    response = client.post(url, data={"decision": "approve", "job": "bank-deposits/job.yaml"})
    assert response.status_code == 403
    assert "security token" in response.text


def test_a_csrf_token_from_another_session_is_refused(site: Site) -> None:
    other = csrf_of(site.client("ann").get("/").text)
    client = site.client("pat")
    response = client.post("/runs", data={"csrf": other, "job": "bank-deposits/job.yaml"},
                           files={"file": ("deposits.csv", DEPOSITS.read_bytes())})
    assert response.status_code == 403
    assert site.web.store.runs() == []


def test_a_preparer_cannot_approve_and_an_approver_cannot_upload(site: Site) -> None:
    run_id = _pending_run(site)
    response = post(site.client("pia"), f"/runs/{run_id}/decide", {"decision": "approve"})
    assert response.status_code == 403
    assert upload(site.client("ann")).status_code == 403
    assert site.client("ann").get("/runs/new").status_code == 403
    assert site.client("pat").get("/users").status_code == 403
    assert site.client("pat").get("/audit").status_code == 403


def test_nobody_approves_their_own_run_not_even_an_admin(site: Site) -> None:
    run_id = _pending_run(site, preparer="ada")
    response = post(site.client("ada"), f"/runs/{run_id}/decide",
                    {"decision": "approve", "comment": "mine"})
    assert response.status_code == 403
    assert "four eyes" in response.text
    assert site.web.store.run(run_id)["state"] == "pending"
    assert site.web.store.approvals(run_id) == []


def test_an_unapproved_run_does_not_execute(site: Site) -> None:
    run_id = _pending_run(site)
    assert _execute(site, run_id).status_code == 409
    assert _ledger(site) == []


# the whole flow, and the approval binding

def test_upload_review_approve_execute_and_download(site: Site) -> None:
    pat, ann = site.client("pat"), site.client("ann")
    run_id = run_id_of(upload(pat))
    review = pat.get(f"/runs/{run_id}")
    assert "Request approval" in review.text and "balanced" in review.text
    assert post(pat, f"/runs/{run_id}/request-approval").status_code == 303
    assert "Waiting for approval" in ann.get("/").text
    assert post(ann, f"/runs/{run_id}/decide", {"decision": "approve"}).status_code == 303
    assert _execute(site, run_id).status_code == 303
    run = site.web.store.run(run_id)
    assert run["state"] == "executed", run["message"]
    assert run["exec_summary"]["counts"]["posted"] == len(_ledger(site)) > 0
    workbook = ann.get(f"/runs/{run_id}/exec.xlsx")
    assert workbook.status_code == 200 and workbook.content.startswith(b"PK")
    summary = ann.get(f"/runs/{run_id}/exec.json")
    assert summary.json()["info"]["mode"] == "execute"
    actions = [e["action"] for e in reversed(site.web.store.audit_log(run_id=run_id))]
    assert actions == ["upload", "dry run", "request approval", "approve", "dry run", "execute",
                       "execute ended", "download", "download"]


def test_a_changed_file_after_approval_voids_the_approval(site: Site) -> None:
    run_id = _approved_run(site)
    stored = Path(site.web.store.run(run_id)["stored_path"])
    stored.write_bytes(stored.read_bytes().replace(b"1,200.00", b"1,300.00"))
    assert _execute(site, run_id).status_code == 303
    assert "the uploaded file changed after approval" in _changes_shown(site, run_id)
    run = site.web.store.run(run_id)
    assert run["state"] == "pending"
    assert site.web.store.approvals(run_id)[0]["void_reason"]
    assert _ledger(site) == []


def test_a_changed_job_spec_after_approval_voids_the_approval(site: Site) -> None:
    run_id = _approved_run(site)
    spec = site.settings.jobs_dir / "bank-deposits" / "job.yaml"
    spec.write_text(spec.read_text() + "\n# edited\n")
    assert _execute(site, run_id).status_code == 303
    assert "the job spec changed after approval" in _changes_shown(site, run_id)
    assert site.web.store.run(run_id)["state"] == "pending"
    assert _ledger(site) == []


def test_rows_that_would_now_go_differently_void_the_approval_and_are_shown(site: Site) -> None:
    run_id = _approved_run(site)
    # Meanwhile someone posts the same statement from the command line.
    run_and_report(site.settings.jobs_dir / "bank-deposits" / "job.yaml", DEPOSITS,
                   RunOptions(mode="execute", sandbox_state=site.settings.sandbox_state,
                              journal_path=site.settings.journal, env={}),
                   reports_dir=site.tmp / "cli-reports")
    posted_by_cli = len(_ledger(site))
    assert _execute(site, run_id).status_code == 303
    assert "would now go differently" in site.web.store.run(run_id)["message"]
    changes = _changes_shown(site, run_id)
    assert "line 3" in changes and "already posted" in changes
    assert site.web.store.run(run_id)["state"] == "pending"
    assert len(_ledger(site)) == posted_by_cli


def test_a_second_execute_for_the_site_is_refused_while_one_runs(site: Site) -> None:
    run_id = _approved_run(site)
    identity = sandbox_identity(site.settings.sandbox_state)  # the site a run would lock
    with site_lock(default_state_dir(), identity):  # e.g. `batchpay run --execute`
        response = _execute(site, run_id)
    assert response.status_code == 409
    assert f"another execute for site {identity} is running" in response.text
    assert site.web.store.run(run_id)["state"] == "approved"
    assert _ledger(site) == []


def test_a_run_being_checked_or_executed_cannot_be_started_again(site: Site) -> None:
    run_id = _approved_run(site)
    site.web.store.update_run(run_id, state="checking")  # as during another click's re-check
    response = _execute(site, run_id)
    assert response.status_code == 409 and "is checking" in response.text
    assert site.web.store.run(run_id)["state"] == "checking"
    assert _ledger(site) == []


def test_reject_needs_a_comment_and_the_preparer_can_ask_again(site: Site) -> None:
    run_id = _pending_run(site)
    ann = site.client("ann")
    assert post(ann, f"/runs/{run_id}/decide", {"decision": "reject"}).status_code == 400
    response = post(ann, f"/runs/{run_id}/decide",
                    {"decision": "reject", "comment": "INV-1006 is void, fix it first"})
    assert response.status_code == 303
    assert site.web.store.run(run_id)["state"] == "rejected"
    assert "INV-1006 is void" in site.client("pat").get(f"/runs/{run_id}").text
    assert _execute(site, run_id).status_code == 409
    assert post(site.client("pat"), f"/runs/{run_id}/request-approval").status_code == 303


def test_a_live_site_needs_allow_live_and_the_button_says_live(site: Site) -> None:
    run_id = _approved_run(site)
    site.web.store.update_run(run_id, live=1, target="acme.chargebee.com")
    page = site.client("ann").get(f"/runs/{run_id}").text
    assert "Post to the LIVE site acme.chargebee.com" in page
    spec = site.settings.jobs_dir / "bank-deposits" / "job.yaml"
    spec.write_text(spec.read_text() + "\nsite: {name: acme}\n")
    response = _execute(site, run_id)
    assert response.status_code == 403
    assert "acme.chargebee.com is a live site" in response.text
    assert _ledger(site) == []


# uploads

def test_the_same_file_again_links_the_earlier_run(site: Site) -> None:
    client = site.client("pat")
    first = run_id_of(upload(client))
    again = upload(client)
    assert again.headers["location"] == f"/runs/{first + 1}?same_as={first}"
    page = client.get(again.headers["location"]).text
    assert f'href="/runs/{first}"' in page and "was uploaded before" in page


def test_an_upload_over_the_size_limit_is_refused(tmp_path: Path) -> None:
    site = make_site(tmp_path, max_upload_bytes=200)
    response = upload(site.client("pat"))
    assert response.status_code == 413
    assert "the limit is 200" in response.text
    assert not (site.settings.uploads).exists() or not any(site.settings.uploads.iterdir())


def test_an_upload_whose_content_is_not_what_the_job_reads_is_refused(site: Site) -> None:
    xlsx = (DEPOSITS.parent / "deposits.xlsx").read_bytes()
    response = upload(site.client("pat"), content=xlsx, name="deposits.csv")
    assert response.status_code == 400
    assert "content is XLSX, but job bank-deposits reads CSV" in response.text
    binary = upload(site.client("pat"), content=b"\x00\x01binary", name="x.csv")
    assert binary.status_code == 400


def test_uploads_are_stored_outside_served_paths(site: Site) -> None:
    client = site.client("pat")
    run_id = run_id_of(upload(client))
    stored = Path(site.web.store.run(run_id)["stored_path"])
    assert stored.is_file() and stored.parent == site.settings.uploads
    assert stored.stat().st_mode & 0o077 == 0
    assert client.get(f"/static/../uploads/{stored.name}").status_code == 404
    assert client.get(f"/uploads/{stored.name}").status_code == 404


def test_invalid_rows_are_listed_with_line_column_value_and_expectation(site: Site) -> None:
    bad = DEPOSITS.read_bytes().replace(b'"1,200.00"', b"12O0.00")
    client = site.client("pat")
    run_id = run_id_of(upload(client, content=bad, name="bad.csv"))
    page = client.get(f"/runs/{run_id}?cat=invalid").text
    assert "line 3" in page and "Paid In" in page and "12O0.00" in page
    assert "expected" in page


def test_review_filters_search_and_pages_on_the_server(site: Site) -> None:
    lines = DEPOSITS.read_text().splitlines()
    rows = [f"03/11/2026,REF-{n:04d},ACME INV-{9000 + n},10.00,,USD,0" for n in range(120)]
    client = site.client("pat")
    run_id = run_id_of(upload(client, content="\n".join(lines[:2] + rows).encode(),
                              name="many.csv"))
    first = client.get(f"/runs/{run_id}").text
    assert "Page 1 of 3" in first and first.count('class="c-failed"') == 50
    last = client.get(f"/runs/{run_id}?page=3").text
    assert last.count('class="c-failed"') == 20
    found = client.get(f"/runs/{run_id}?q=ref-0042").text
    assert found.count('class="c-failed"') == 1 and "INV-9042" in found
    assert client.get(f"/runs/{run_id}?cat=posted").text.count('class="c-') == 0


# what never reaches a page, and the headers on every response

def test_pages_are_autoescaped(site: Site) -> None:
    client = site.client("pat")
    run_id = run_id_of(upload(client, name='<img src=x onerror="alert(1)">.csv'))
    page = client.get(f"/runs/{run_id}").text
    assert "<img src=x" not in page
    assert "&lt;img src=x onerror=" in page


def test_every_response_carries_a_strict_content_security_policy(site: Site) -> None:
    client = site.client("pat")
    run_id = run_id_of(upload(client))
    for url in ("/signin", "/", f"/runs/{run_id}", f"/runs/{run_id}/dry.xlsx", "/nope"):
        headers = client.get(url).headers
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "script-src 'self'" in csp
        assert "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
        assert headers["x-content-type-options"] == "nosniff"


def test_the_api_key_never_reaches_a_page_a_url_or_the_database(site: Site) -> None:
    run_id = _approved_run(site)
    assert _execute(site, run_id).status_code == 303
    ann = site.client("ann")
    seen = "".join(ann.get(url).text for url in
                   ("/", f"/runs/{run_id}", "/history", "/audit", f"/runs/{run_id}/exec.json",
                    f"/runs/{run_id}?phase=dry"))
    assert DEFAULT_API_KEY not in seen
    assert DEFAULT_API_KEY.encode() not in site.web.store.path.read_bytes()


# audit

def test_the_audit_log_is_append_only(site: Site) -> None:
    sign_in(site.client(), "pat")
    store = site.web.store
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.raw_execute("UPDATE audit SET user = 'someone else'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        store.raw_execute("DELETE FROM audit")
    assert [e["action"] for e in store.audit_log()] == ["sign in"]
    assert site.client("ada").post("/audit").status_code == 405


def test_history_filters_by_state_job_and_person(site: Site) -> None:
    _pending_run(site)
    run_id_of(upload(site.client("pia")))
    ada = site.client("ada")
    assert ada.get("/history?state=pending").text.count('href="/runs/') >= 1
    page = ada.get("/history?user=pia").text
    assert "pia" in page and "pat" not in page.split("<tbody>")[1]


# jobs

def test_jobs_pages_show_the_mapping_and_the_yaml(site: Site) -> None:
    page = site.client("pat").get("/jobs/bank-deposits/job.yaml").text
    assert "Field mapping" in page and "credit_column" in page and "record_payment" in page
    assert site.client("pat").get("/jobs/../../etc/passwd").status_code == 404


def test_an_admin_uploads_a_job_spec_validated_like_the_cli(site: Site) -> None:
    ada = site.client("ada")
    bad = b"name: broken\nfields: {x: {column: A, tpye: text}}\naction: {type: record_payment}\n"
    response = post(ada, "/jobs", files={"spec": ("broken.yaml", bad)})
    assert response.status_code == 400
    assert "broken.yaml" in response.text and "tpye" in response.text
    good = (site.settings.jobs_dir / "bank-deposits" / "job.yaml").read_bytes()
    response = post(ada, "/jobs", files={"spec": ("november.yaml", good)})
    assert response.headers["location"] == "/jobs/uploaded/november.yaml"
    assert post(site.client("pat"), "/jobs",
                files={"spec": ("x.yaml", good)}).status_code == 403


def test_an_admin_adds_a_user_who_can_then_sign_in(site: Site) -> None:
    ada = site.client("ada")
    short = post(ada, "/users", {"name": "zoe", "role": "approver", "password": "short"})
    assert short.status_code == 400
    ok = post(ada, "/users", {"name": "zoe", "role": "approver", "password": "a long password!"})
    assert ok.status_code == 303
    assert sign_in(site.client(), "zoe", "a long password!").status_code == 303


# stop, progress, execute again

def test_stop_leaves_the_rest_unsent_and_executing_again_posts_it_once(tmp_path: Path) -> None:
    site = make_site(tmp_path)
    spec = site.settings.jobs_dir / "bank-deposits" / "job.yaml"
    spec.write_text(spec.read_text() + "\nsite: {rate_per_minute: 100000}\n")
    n = 300
    store = SandboxStore(site.settings.sandbox_state)
    store.load_seed(synthetic_seed(n, prefix="INV-"))
    store.close()
    lines = ["Statement", "Date,Reference ID,Description,Paid In,Paid Out,Currency,Balance"]
    lines += [f"03/11/2026,REF-{i},PAY INV-{i:06d},100.00,,USD,0" for i in range(1, n + 1)]
    pat = site.client("pat")
    run_id = run_id_of(upload(pat, content="\n".join(lines).encode(), name="big.csv"))
    assert post(pat, f"/runs/{run_id}/request-approval").status_code == 303
    ann = site.client("ann")
    assert post(ann, f"/runs/{run_id}/decide", {"decision": "approve"}).status_code == 303
    assert post(ann, f"/runs/{run_id}/execute").status_code == 303
    recheck = site.web.runs.dry_running(run_id)  # the execute starts once it has ended
    if recheck is not None and recheck.thread is not None:
        recheck.thread.join(60)
    assert post(ann, f"/runs/{run_id}/stop").status_code == 303
    assert ann.get(f"/runs/{run_id}/progress").json()["state"] in ("executing", "stopped")
    site.web.runs.wait(run_id, timeout=240)
    run = site.web.store.run(run_id)
    assert run["state"] == "stopped", run["message"]
    posted_first = run["exec_summary"]["counts"]["posted"]
    assert posted_first < n
    assert len(_ledger(site)) == posted_first
    assert "Stopped before the end" in ann.get(f"/runs/{run_id}").text
    assert post(ann, f"/runs/{run_id}/stop").status_code == 409
    assert _execute(site, run_id).status_code == 303
    run = site.web.store.run(run_id)
    assert run["state"] == "executed", run["message"]
    ledger = _ledger(site)
    assert len(ledger) == n and len({e["idempotency_key"] for e in ledger}) == n
    assert [e["action"] for e in site.web.store.audit_log(action="stop")] == ["stop"]


def test_history_names_who_uploaded_approved_and_executed(site: Site) -> None:
    run_id = _approved_run(site)
    assert _execute(site, run_id).status_code == 303
    row = site.client("ada").get("/history").text.split(f'href="/runs/{run_id}"')[1]
    row = row.split("</tr>")[0]
    assert "pat" in row and row.count("ann") == 2 and "executed" in row


def test_a_run_left_executing_by_a_server_restart_is_marked_stopped(site: Site) -> None:
    run_id = _approved_run(site)
    site.web.store.update_run(run_id, state="executing")
    from batchpay.web import create_app

    restarted = create_app(site.settings)
    run = restarted.state.web.store.run(run_id)
    assert run["state"] == "stopped" and "server stopped during the execute" in run["message"]


def test_a_run_left_checking_before_its_execute_by_a_restart_can_execute(site: Site) -> None:
    run_id = _approved_run(site)
    site.web.store.update_run(run_id, state="checking")  # as execute's claim leaves it
    from batchpay.web import create_app

    site.app = create_app(site.settings)
    run = site.web.store.run(run_id)
    assert run["state"] == "approved" and "while re-checking" in run["message"], run
    assert _execute(site, run_id).status_code == 303
    assert site.web.store.run(run_id)["state"] == "executed"
    assert len(_ledger(site)) == run["dry_summary"]["to_post"]["rows"]


def test_signing_out_ends_the_session_even_for_a_copied_cookie(site: Site) -> None:
    client = site.client("pat")
    copied = client.cookies[SESSION_COOKIE]
    assert post(client, "/signout").status_code == 303
    thief = site.client()
    thief.cookies.set(SESSION_COOKIE, copied)
    assert thief.get("/").status_code == 303


def test_a_new_password_signs_the_user_out_everywhere(site: Site) -> None:
    client = site.client("pat")
    ok = post(site.client("ada"), "/users",
              {"name": "pat", "role": "preparer", "password": "a brand new password"})
    assert ok.status_code == 303
    assert client.get("/").status_code == 303


def test_a_run_within_the_jobs_approval_thresholds_needs_no_second_person(site: Site) -> None:
    spec = site.settings.jobs_dir / "bank-deposits" / "job.yaml"
    limits = "{USD: '1475.00', EUR: 1299.99, GBP: 2000, JPY: 150000, KWD: '12.345'}"
    spec.write_text(spec.read_text() + f"\napproval: {{required_above: {limits}}}\n")
    run_id = _pending_run(site)
    run = site.web.store.run(run_id)
    assert run["state"] == "approved"
    assert site.web.store.approvals(run_id)[0]["approver"] == "(below threshold)"
    assert _execute(site, run_id, user="pat").status_code == 303
    assert site.web.store.run(run_id)["state"] == "executed"


def test_a_run_above_a_threshold_still_needs_an_approver(site: Site) -> None:
    spec = site.settings.jobs_dir / "bank-deposits" / "job.yaml"
    limits = "{USD: '1474.99', EUR: 1299.99, GBP: 2000, JPY: 150000, KWD: '12.345'}"
    spec.write_text(spec.read_text() + f"\napproval: {{required_above: {limits}}}\n")
    run_id = _pending_run(site)
    assert site.web.store.run(run_id)["state"] == "pending"
    assert site.web.store.approvals(run_id) == []


def test_a_utf16_statement_is_text_not_a_binary_file(site: Site) -> None:
    spec = site.settings.jobs_dir / "bank-deposits" / "job.yaml"
    spec.write_text(spec.read_text().replace("encoding: utf-8", "encoding: utf-16"))
    content = DEPOSITS.read_text(encoding="utf-8").encode("utf-16")
    client = site.client("pat")
    response = upload(client, content=content, name="deposits-utf16.csv")
    assert response.status_code == 303, response.text[-500:]
    run = site.web.store.run(run_id_of(response))
    assert run["state"] == "dry-run" and run["dry_summary"]["rows_read"] == 14


def test_a_run_that_would_post_an_unknown_amount_is_not_within_any_threshold(
    site: Site,
) -> None:
    # Two allocation rows for one invoice are one apply_payments call applying what the
    # payments they name have unused; one payment is not on the site, so the dry run cannot
    # price the rows: its would-post total (none) proves nothing about the threshold, and a
    # second person must approve (it was approved as "would post nothing").
    shutil.copytree(SAMPLES / "allocation", site.settings.jobs_dir / "allocation")
    spec = site.settings.jobs_dir / "allocation" / "job.yaml"
    spec.write_text(spec.read_text() + "\napproval: {required_above: {USD: '100000.00'}}\n")
    rows = (b"Invoice,Payment Txn,Apply Amount,Note\n"
            b"INV-1014,txn_hooli_1,,a\nINV-1014,txn_not_on_the_site,,b\n")
    client = site.client("pat")
    run_id = run_id_of(upload(client, job="allocation/job.yaml", content=rows, name="a.csv"))
    assert site.web.store.run(run_id)["dry_summary"]["counts"]["posted"] == 2
    assert post(client, f"/runs/{run_id}/request-approval").status_code == 303
    assert site.web.store.run(run_id)["state"] == "pending"
    assert site.web.store.approvals(run_id) == []


def test_an_approved_run_of_grouped_rows_without_amounts_executes(site: Site) -> None:
    # The execute re-checks that what it is about to post is what the dry run showed: the
    # rows of a grouped apply_payments call must be priced the same way in both.
    shutil.copytree(SAMPLES / "allocation", site.settings.jobs_dir / "allocation")
    rows = (b"Invoice,Payment Txn,Apply Amount,Note\n"
            b"INV-1014,txn_hooli_1,,a\nINV-1014,txn_hooli_2,,b\n")
    client = site.client("pat")
    run_id = run_id_of(upload(client, job="allocation/job.yaml", content=rows, name="a.csv"))
    assert post(client, f"/runs/{run_id}/request-approval").status_code == 303
    assert post(site.client("ann"), f"/runs/{run_id}/decide",
                {"decision": "approve", "comment": "fine"}).status_code == 303
    assert _execute(site, run_id).status_code == 303
    run = site.web.store.run(run_id)
    assert run["state"] == "executed", run["message"]
    assert run["exec_summary"]["counts"]["posted"] == 2


def test_numbers_too_big_for_the_database_are_not_found_not_an_internal_error(
    site: Site,
) -> None:
    client = site.client("ann")
    run_id = run_id_of(upload(site.client("pat")))
    huge = "9" * 25
    assert client.get(f"/runs/{run_id}?page={huge}&same_as={huge}").status_code == 200
    assert client.get(f"/runs/{run_id}?page=\u00b2").status_code == 200  # a digit int() refuses
    assert client.get(f"/runs/{huge}").status_code == 404
    assert client.get(f"/runs/{huge}/progress").status_code == 404
    assert client.get(f"/audit?run={huge}").status_code == 200
    assert post(client, f"/runs/{huge}/decide", {"decision": "approve"}).status_code == 404


def test_a_job_spec_with_credentials_in_its_url_never_shows_them(site: Site) -> None:
    # batchpay refuses such a spec, and the page says so; its YAML is shown beside the error,
    # with the URL's user info masked (a secret never reaches a page)
    job = site.settings.jobs_dir / "bank-deposits" / "job.yaml"
    leaky = site.settings.jobs_dir / "leaky.yaml"
    leaky.write_text(job.read_text().replace(
        "api_version: v2", 'api_version: v2\nsite: {base_url: "https://bob:hunter2secret@'
        'acme-test.chargebee.com/api/v2"}'))
    client = site.client("pat")
    for page in ("/jobs", "/jobs/leaky.yaml"):
        response = client.get(page)
        assert response.status_code == 200
        assert "must not carry credentials" in response.text
        assert "hunter2secret" not in response.text and "bob:" not in response.text
    assert "https://***@acme-test.chargebee.com/api/v2" in client.get("/jobs/leaky.yaml").text


def test_a_currency_one_job_declares_stays_unknown_to_another_job(site: Site) -> None:
    # Declared currencies belonged to the process: once job A (currencies: {XYZ: 0}) had been
    # loaded, job B read XYZ amounts too. Now they are the declaring job's run's alone.
    jobs = site.settings.jobs_dir / "bank-deposits"
    spec = (jobs / "job.yaml").read_text()
    (jobs / "declares-xyz.yaml").write_text(
        spec.replace("name: bank-deposits", "name: declares-xyz") + "\ncurrencies: {XYZ: 0}\n")
    lines = DEPOSITS.read_text().splitlines()[:2]
    lines.append('03/11/2026,NW-1,"PAYMENT INV-1001",1500,,XYZ,0')
    content = "\n".join(lines).encode()
    client = site.client("pat")
    declaring = run_id_of(upload(client, job="bank-deposits/declares-xyz.yaml", content=content,
                                 name="xyz.csv"))
    (row,) = site.web.store.page_rows(declaring, "dry")[0]
    assert row["category"] != "invalid" and row["amount"] == "1,500", row
    assert "1,500 XYZ" in client.get(f"/runs/{declaring}").text
    other = run_id_of(upload(client, content=content, name="xyz.csv"))
    (row,) = site.web.store.page_rows(other, "dry")[0]
    assert row["category"] == "invalid", row
    assert "'XYZ' is not an ISO 4217 currency code" in row["reason"] + str(row["failures"])
    with pytest.raises(UnknownCurrency):  # nor does it linger in the server's own threads
        currency_exponent("XYZ")


def test_the_home_page_lists_a_run_in_a_currency_its_job_declares(site: Site) -> None:
    # The runs tables (pending, recent) formatted each would-post total with the currency's
    # decimals, outside any job's run: a run of a job declaring XYZ made the home page a 500.
    jobs = site.settings.jobs_dir / "bank-deposits"
    spec = (jobs / "job.yaml").read_text()
    (jobs / "declares-xyz.yaml").write_text(
        spec.replace("name: bank-deposits", "name: declares-xyz") + "\ncurrencies: {XYZ: 0}\n")
    lines = DEPOSITS.read_text().splitlines()[:2]
    lines.append('03/11/2026,NW-1,"PAYMENT INV-1001",1500,,XYZ,0')
    client = site.client("pat")
    upload(client)  # the sandbox's state made, with its demo invoices
    sandbox = SandboxStore(site.settings.sandbox_state)
    try:  # an invoice in XYZ, so the row would post
        invoice = sandbox.invoice("INV-1001")
        assert invoice is not None
        sandbox.put_invoice({**invoice, "currency_code": "XYZ", "amount_due": 1500,
                             "total": 1500})
    finally:
        sandbox.close()
    run_id = run_id_of(upload(client, job="bank-deposits/declares-xyz.yaml",
                              content="\n".join(lines).encode(), name="xyz.csv"))
    assert site.web.store.run(run_id)["dry_summary"]["to_post"]["totals"] == {"XYZ": 1500}
    home = client.get("/")
    assert home.status_code == 200
    assert "1,500 XYZ" in home.text
