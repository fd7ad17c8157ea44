"""A built-in sandbox state the web's runs cannot open (here: a folder in its place) fails the
dry run with the one line that names the state file and what to do, not an internal error."""

from __future__ import annotations

from pathlib import Path

from webkit import make_site, run_id_of, upload


def test_a_folder_as_the_sandbox_state_fails_the_dry_run_with_its_one_line(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state-folder"
    state.mkdir()
    site = make_site(tmp_path, sandbox_state=state)
    pat = site.client("pat")
    run_id = run_id_of(upload(pat))
    run = site.web.store.run(run_id)
    assert run["state"] == "error", run
    assert f"cannot open the sandbox's state {state}: it is a folder" in run["message"], run
    assert "internal error" not in run["message"]
    page = pat.get(f"/runs/{run_id}").text
    assert "it is a folder" in page and "Traceback" not in page
