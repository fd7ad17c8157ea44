"""A background dry run or re-check that ends drops its own progress entry only: a "Dry run again"
or an "Execute" clicked as soon as the ending task set the run's state starts a newer task, whose
progress the run page shows and ``Runs.wait`` waits for; the ending task does not overwrite the
newer one's state either.

The click is made certain rather than hoped for: the web store, subclassed, runs it in the ending
task's thread right after that task wrote the state (the narrowest window a real click could land
in). Everything else is the real code: the public ``Runs`` methods, the real sandbox on a loopback
port behind a gate that holds the newer task's API requests until the test opens it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from webkit import DEPOSITS, GATE_LIMIT, gated_sandbox_site

from batchpay.web.runs import DryRunning, Runs
from batchpay.web.store import Store

JOB = "bank-deposits/job.yaml"


class _ClickingStore(Store):
    """The web store; ``click(run_id)`` runs once, in the writing thread, just after a run's
    state is set to ``when``."""

    def __init__(self, path: Path, when: str) -> None:
        super().__init__(path)
        self.when = when
        self.click: Callable[[int], None] | None = None

    def update_run(self, run_id: int, **values: Any) -> None:
        super().update_run(run_id, **values)
        if values.get("state") == self.when and self.click is not None:
            click, self.click = self.click, None
            click(run_id)


def _clicking(runs: Runs, store: _ClickingStore, env: dict[str, str], key: str,
              action: Callable[[int], None]) -> tuple[threading.Event, list[DryRunning | None]]:
    """Arm the store: at the state, note the ending task, give the key back, click."""
    clicked, ending = threading.Event(), []

    def click(run_id: int) -> None:
        ending.append(runs.dry_running(run_id))
        env["CHARGEBEE_API_KEY"] = key
        action(run_id)
        clicked.set()

    store.click = click
    return clicked, ending


def _ended(clicked: threading.Event, ending: list[DryRunning | None]) -> DryRunning:
    assert clicked.wait(GATE_LIMIT), "the ending task never set the state"
    (task,) = ending
    assert task is not None and task.thread is not None
    task.thread.join(GATE_LIMIT)
    assert not task.thread.is_alive()
    return task


def test_a_dry_run_again_clicked_as_the_failed_dry_run_ends_keeps_its_progress(
    tmp_path: Path,
) -> None:
    with gated_sandbox_site(tmp_path) as (site, gate):
        store = _ClickingStore(site.settings.data_dir / "web.sqlite", "error")
        runs = Runs(site.settings, store)
        env = site.settings.env
        assert isinstance(env, dict)
        key = env.pop("CHARGEBEE_API_KEY")  # the first dry run is refused: no API key
        clicked, ending = _clicking(runs, store, env, key,
                                    lambda run_id: runs.dry_run_again(run_id, "pat"))
        run_id, _ = runs.upload(JOB, DEPOSITS.name, DEPOSITS.read_bytes(), "pat")
        first = _ended(clicked, ending)

        again = runs.dry_running(run_id)  # held at the gate
        assert again is not None and again is not first
        assert store.run(run_id)["state"] == "dry-running"
        gate.open.set()
        runs.wait(run_id)
        run = store.run(run_id)
        assert run["state"] == "dry-run" and run["dry_report"], run
        assert runs.dry_running(run_id) is None
        store.close()


def test_an_execute_clicked_as_the_failed_recheck_ends_keeps_its_progress(
    tmp_path: Path,
) -> None:
    with gated_sandbox_site(tmp_path) as (site, gate):
        store = _ClickingStore(site.settings.data_dir / "web.sqlite", "approved")
        runs = Runs(site.settings, store)
        gate.open.set()
        run_id, _ = runs.upload(JOB, DEPOSITS.name, DEPOSITS.read_bytes(), "pat")
        runs.wait(run_id)
        runs.request_approval(run_id, "pat")
        if store.run(run_id)["state"] == "pending":
            runs.decide(run_id, "ann", "approved", "")
        assert store.run(run_id)["state"] == "approved"

        env = site.settings.env
        assert isinstance(env, dict)
        key = env.pop("CHARGEBEE_API_KEY")  # the first re-check is refused: no API key

        def execute(run_id: int) -> None:
            gate.close()
            runs.execute(run_id, "ann")

        clicked, ending = _clicking(runs, store, env, key, execute)
        runs.execute(run_id, "ann")
        first = _ended(clicked, ending)

        again = runs.dry_running(run_id)  # the second re-check, held at the gate
        assert again is not None and again is not first
        assert store.run(run_id)["state"] == "checking"
        gate.open.set()
        runs.wait(run_id)
        run = store.run(run_id)
        assert run["state"] == "executed", run["message"]
        assert runs.dry_running(run_id) is None
        store.close()
