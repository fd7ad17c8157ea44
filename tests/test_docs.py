"""The docs cannot drift: the job-spec reference is regenerated and compared, every sample job
loads, and the README's workflow commands name files that exist."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from batchpay.reference import render
from batchpay.spec import JobSpec, load_spec

REPO = Path(__file__).resolve().parents[1]
SAMPLE_JOBS = sorted(
    p for p in (REPO / "samples").rglob("*.yaml") if p.name != "sandbox-seed.yaml"
)


def test_job_spec_reference_is_current() -> None:
    committed = (REPO / "docs" / "job-spec.md").read_text(encoding="utf-8")
    assert committed == render(), (
        "docs/job-spec.md is stale: run `python -m batchpay.reference > docs/job-spec.md`"
    )


def test_reference_covers_every_key() -> None:
    text = render()
    for name, info in JobSpec.model_fields.items():
        assert f"`{info.alias or name}`" in text
    for action in ("record_payment", "collect_payment", "apply_payments", "close_invoice",
                   "charge"):
        assert f"### `{action}`" in text
    assert "`paid_at` (required)" in text  # v1 wire name of record_payment's date
    assert "`POST /invoices/{invoice-id}/collect`" in text  # v1 close


@pytest.mark.parametrize("job", SAMPLE_JOBS, ids=lambda p: str(p.relative_to(REPO / "samples")))
def test_sample_job_loads(job: Path) -> None:
    load_spec(job)


def test_there_is_a_sample_for_every_action_in_both_versions() -> None:
    seen = {(a.type, s.api_version) for s in map(load_spec, SAMPLE_JOBS) for a in s.actions()}
    for action in ("record_payment", "collect_payment", "close_invoice", "charge"):
        assert {(action, "v1"), (action, "v2")} <= seen
    assert ("apply_payments", "v2") in seen


def _shown_job_specs() -> list[tuple[str, str]]:
    """(document, YAML) of every job spec the README and docs/ show in a yaml block."""
    found = []
    for doc in [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]:
        for block in re.findall(r"```ya?ml\n(.*?)```", doc.read_text(encoding="utf-8"), re.S):
            if re.search(r"^name:", block, re.M) and re.search(r"^(action|actions|routes):",
                                                                block, re.M):
                found.append((doc.name, block))
    return found


def test_every_job_spec_shown_in_the_docs_loads(tmp_path: Path) -> None:
    """A reader copies them: the README's had an unquoted comma in a flow mapping, which YAML
    reads as a second key (`filters.0.not a deposit: unknown key`)."""
    shown = _shown_job_specs()
    assert any(doc == "README.md" for doc, _ in shown)
    for index, (doc, block) in enumerate(shown):
        path = tmp_path / f"{index}-{doc}.yaml"
        path.write_text(block, encoding="utf-8")
        load_spec(path)


def test_the_readme_job_spec_reads_the_sample(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from batchpay.cli import main

    block = next(block for doc, block in _shown_job_specs() if doc == "README.md")
    job = tmp_path / "job.yaml"
    job.write_text(block, encoding="utf-8")
    data = REPO / "samples" / "bank-deposits" / "deposits.csv"
    result = CliRunner().invoke(main, ["validate", str(job), str(data), "--journal",
                                       str(tmp_path / "j.sqlite"), "--reports-dir",
                                       str(tmp_path)])
    assert result.exit_code == 0, result.output


def test_readme_commands_name_existing_files() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme.split("<!-- workflows -->", 1)[1].split("<!-- /workflows -->", 1)[0]
    paths = set(re.findall(r"samples/[\w./-]+\.(?:yaml|csv|xlsx)", section))
    assert len(paths) >= 10
    for path in paths:
        assert (REPO / path).is_file(), path


def test_docs_link_to_existing_files() -> None:
    for page in (REPO / "docs").glob("*.md"):
        text = page.read_text(encoding="utf-8")
        for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_spreadsheet_samples_match_their_generator(tmp_path: Path) -> None:
    """samples/*.xlsx are exactly what samples/make_samples.py builds."""
    spec = importlib.util.spec_from_file_location("make_samples", REPO / "samples" /
                                                  "make_samples.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.cheque_log(tmp_path / "cheques.xlsx")
    module.bank_deposits_xlsx(REPO / "samples" / "bank-deposits" / "deposits.csv",
                              tmp_path / "deposits.xlsx")
    samples = REPO / "samples"
    assert (tmp_path / "cheques.xlsx").read_bytes() == (
        samples / "cheque-log" / "cheques.xlsx").read_bytes()
    assert (tmp_path / "deposits.xlsx").read_bytes() == (
        samples / "bank-deposits" / "deposits.xlsx").read_bytes()
