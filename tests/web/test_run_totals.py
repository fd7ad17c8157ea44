"""The run page's control totals say what the terminal and ``batchpay run --json`` say: per
currency the money read in, its categories, and the money going out (debits) that was skipped
kept apart, never netted into the money in. The sample's line 11 is a GBP debit of -45.20."""

from __future__ import annotations

import html
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from webkit import DEPOSITS, Site, make_site, post, run_id_of, upload

from batchpay.cli import main

LABELS = {"would post": "posted", "posted": "posted", "skipped": "skipped",
          "would fail": "failed", "failed": "failed", "invalid": "invalid",
          "needs review": "needs_review"}


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return make_site(tmp_path)


def _cli_json(site: Site, tmp: Path, *extra: str, exit_code: int = 0) -> dict[str, Any]:
    """``batchpay run --json`` of the same job and file, on a sandbox and journal of its own."""
    job = site.settings.jobs_dir / "bank-deposits" / "job.yaml"
    cli = tmp / "cli"
    result = CliRunner().invoke(main, [
        "run", str(job), str(DEPOSITS), "--json", "--sandbox-state", str(cli / "sb.sqlite"),
        "--journal", str(cli / "journal.sqlite"), "--reports-dir", str(cli / "reports"),
        *extra], catch_exceptions=False)
    assert result.exit_code == exit_code, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _cell_text(cell: str) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", cell)).split())


def _totals_table(page: str) -> dict[str, dict[str, str]]:
    """The page's control totals: {currency: {column heading: cell text}}."""
    found = re.search(r'<table class="grid totals">(.*?)</table>', page, re.S)
    assert found, "no control totals on the run page"
    rows = [[_cell_text(c) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)]
            for row in re.findall(r"<tr>(.*?)</tr>", found.group(1), re.S)]
    heads, body = rows[0], rows[1:]
    return {cells[0]: dict(zip(heads, cells, strict=True)) for cells in body}


def _count_and_amount(cell: str) -> tuple[int, Decimal]:
    """``"1 · -45.20"`` -> (1, Decimal("-45.20")); ``"0"`` -> (0, 0)."""
    count, _, amount = cell.partition(" · ")
    return int(count), Decimal(amount.replace(",", "") or "0")


def _total(t: dict[str, Any]) -> tuple[int, Decimal]:
    return t["count"], Decimal(t["amount"] or "0")


def _assert_page_says_what_the_json_says(page: str, summary: dict[str, Any]) -> None:
    table = _totals_table(page)
    assert set(table) == {t["currency"] for t in summary["control_totals"]}
    for t in summary["control_totals"]:
        shown = table[t["currency"]]
        assert _count_and_amount(shown["read (money in)"]) == _total(t["read"]), shown
        assert _count_and_amount(shown["money out, skipped"]) == _total(t["money_out"])
        for label, name in LABELS.items():
            if label in shown:
                assert _count_and_amount(shown[label]) == _total(t["by_category"][name]), label
        assert ("✓ balanced" in shown["Balance"]) == t["balanced"]


def test_the_run_page_keeps_money_out_apart_as_the_terminal_and_json_do(
    site: Site, tmp_path: Path
) -> None:
    pat = site.client("pat")
    run_id = run_id_of(upload(pat))  # waits for the background dry run
    dry = _cli_json(site, tmp_path)
    gbp = next(t for t in dry["control_totals"] if t["currency"] == "GBP")
    assert gbp["money_out"] == {"count": 1, "amount_minor": -4520, "amount": "-45.20"}

    page = pat.get(f"/runs/{run_id}").text
    _assert_page_says_what_the_json_says(page, dry)
    assert _totals_table(page)["GBP"]["money out, skipped"] == "1 · -45.20"

    assert post(pat, f"/runs/{run_id}/request-approval").status_code == 303
    ann = site.client("ann")
    assert post(ann, f"/runs/{run_id}/decide", {"decision": "approve"}).status_code == 303
    assert post(ann, f"/runs/{run_id}/execute").status_code == 303
    site.web.runs.wait(run_id)
    assert site.web.store.run(run_id)["state"] == "executed"
    # exit 1: the sample's failing rows fail on the site too
    executed = _cli_json(site, tmp_path / "exec", "--execute", "--yes", exit_code=1)
    result_page = ann.get(f"/runs/{run_id}").text
    _assert_page_says_what_the_json_says(result_page, executed)
    _assert_page_says_what_the_json_says(ann.get(f"/runs/{run_id}?phase=dry").text, dry)


def test_a_run_stored_before_money_out_was_kept_apart_still_renders(site: Site) -> None:
    pat = site.client("pat")
    run_id = run_id_of(upload(pat))
    old = site.web.store.run(run_id)["dry_summary"]
    for t in old["totals"]:
        t.pop("money_out", None)  # as stored before money out was kept apart
    site.web.store.update_run(run_id, dry_summary=json.dumps(old))

    response = pat.get(f"/runs/{run_id}")
    assert response.status_code == 200
    heads = _totals_table(response.text)["GBP"]
    assert "read" in heads and "money out, skipped" not in heads
    history = pat.get("/history")
    assert history.status_code == 200 and f"/runs/{run_id}" in history.text
