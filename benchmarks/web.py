"""Case 5: the web review page's first paint for a large run (server time).

A run of N statement lines is uploaded and dry-run through the app (against the built-in
sandbox: the synthetic invoices do not exist there, so every row is a *would fail*, which is
just as many rows to page through). Then the review page is requested in process through
Starlette's TestClient, which times the whole server side: routing, session, the paged query,
template rendering. First paint = the first page of all rows; also a category filter, a
search and a deep page.
"""

from __future__ import annotations

import re
import statistics
import time
from pathlib import Path
from typing import Any

from . import generate

PASSWORD = "benchmark password"
VIEWS = {"first page": "", "filter: would fail": "?cat=failed",
         "search: a reference": "?q=nw-00004", "page 1000": "?page=1000"}


def review_case(workdir: Path, sizes: list[int], repeat: int = 5) -> list[dict[str, Any]]:
    return [_one(workdir / f"web-{n}", n, repeat) for n in sizes]


def _one(work: Path, n: int, repeat: int) -> dict[str, Any]:
    from starlette.testclient import TestClient

    from batchpay.web import Settings, create_app
    from batchpay.web.security import hash_password

    work.mkdir(parents=True, exist_ok=True)
    data = generate.write_csv(work / f"deposits-{n}.csv", generate.rows(n))
    jobs = Path(__file__).resolve().parents[1] / "samples"
    settings = Settings(data_dir=work / "data", jobs_dir=jobs,
                        sandbox_state=work / "sandbox.sqlite", journal=work / "journal.sqlite",
                        max_upload_bytes=1 << 30, env={})
    app = create_app(settings)
    app.state.web.store.add_user("bench", "preparer", hash_password(PASSWORD))
    client = TestClient(app, follow_redirects=False)
    token = _csrf(client.get("/signin").text)
    client.post("/signin", data={"name": "bench", "password": PASSWORD, "csrf": token})
    token = _csrf(client.get("/").text)
    start = time.perf_counter()
    response = client.post("/runs", data={"csrf": token, "job": "bank-deposits/job.yaml"},
                           files={"file": (data.name, data.read_bytes())})
    upload_s = time.perf_counter() - start
    location = response.headers["location"]
    run_id = int(location.split("?")[0].rsplit("/", 1)[1])
    while client.get(f"/runs/{run_id}/progress").json()["state"] == "dry-running":
        time.sleep(0.5)  # the dry run runs in the background since the upload answered
    dry_run_s = time.perf_counter() - start
    assert client.get(f"/runs/{run_id}/progress").json()["state"] == "dry-run"
    views = {}
    for name, query in VIEWS.items():
        runs = []
        for _ in range(repeat):
            start = time.perf_counter()
            page = client.get(location.split("?")[0] + query)
            runs.append(time.perf_counter() - start)
            assert page.status_code == 200, page.text[:200]
        views[name] = {"median_s": statistics.median(runs), "runs_s": runs}
    return {"rows": n, "upload_answer_s": upload_s, "upload_and_dry_run_s": dry_run_s,
            "views": views}


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)
