"""What the web pages do with runs, on top of ``batchpay.api``: store an upload, dry-run it,
bind approvals to what was approved, re-check before execute, execute in a background thread.

States: ``dry-running`` (the upload's dry run, in a background thread) -> ``dry-run`` (reviewed
by the preparer) -> ``pending`` (approval requested) -> ``approved`` | ``rejected`` ->
``checking`` (execute's re-check, in a background thread) -> ``executing`` -> ``executed`` |
``stopped`` | ``error``. A void approval (file, job spec or predicted outcomes changed) sends a
run back to ``pending`` with the changes kept for its page; a re-check that fails sends it back
to where it was (``approved`` or ``stopped``) with the reason.
A dry run that fails (or that a server restart cut short) leaves the run in ``error`` with the
reason; such a run can be dry-run again.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from batchpay import api
from batchpay.errors import BatchpayError
from batchpay.execute import Progress
from batchpay.money import declared_currencies, format_amount
from batchpay.progress import OnStep, Step
from batchpay.records import RowOutcome, RunResult
from batchpay.report.jsonout import summary_dict
from batchpay.run import PlanSummary
from batchpay.spec import JobSpec, job_currencies

from .store import Store

MAX_UPLOAD_BYTES = 50 * 1024 * 1024
MAX_CHANGES_SHOWN = 200  # rows a void re-check keeps for the run's page; the rest are counted
THRESHOLD_APPROVER = "(below threshold)"
_SNIFF = {
    "xlsx": (b"PK\x03\x04",),
    "ods": (b"PK\x03\x04",),
    "xls": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",),
}
_SUFFIXES = {"csv": ".csv", "xlsx": ".xlsx", "xls": ".xls", "ods": ".ods"}
_USERINFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*:/*)[^\s/?#@'\"{}\[\],]*@")


class WebError(Exception):
    """A refusal the user caused, shown on the page with this text; ``status`` is the HTTP one."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Settings:
    data_dir: Path
    jobs_dir: Path
    sandbox_state: Path = Path(".batchpay/sandbox.sqlite")
    journal: Path | None = None  # None: the job's journal, else the CLI's default
    max_upload_bytes: int = MAX_UPLOAD_BYTES
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))

    @property
    def uploads(self) -> Path:
        return self.data_dir / "uploads"

    @property
    def reports(self) -> Path:
        return self.data_dir / "reports"


@dataclass
class Job:
    path: str  # relative to the jobs folder: the job's identity in runs
    spec: JobSpec | None
    error: str = ""
    text: str = ""


@dataclass
class Execution:
    """A background execute: its progress, its stop switch, its thread."""

    run_id: int
    site: str
    started: float
    progress: Progress | None = None
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    def view(self) -> dict[str, Any]:
        p = self.progress
        elapsed = max(time.monotonic() - self.started, 1e-6)
        done, total = (p.done, p.total) if p else (0, 0)
        rate = done / elapsed
        return {
            "done": done, "total": total, "posted": p.posted if p else 0,
            "failed": p.failed if p else 0, "review": p.review if p else 0,
            "rate": round(rate * 60, 1), "eta": round((total - done) / rate) if rate else None,
            "stopping": self.stop.is_set(),
        }


@dataclass
class DryRunning:
    """A background dry run: the engine's step it is in (read, validate, check, write), the
    steps it finished, its thread."""

    run_id: int
    started: float
    step: Step | None = None
    step_started: float = 0.0
    finished: tuple[tuple[str, float, str], ...] = ()  # (label, seconds, last detail)
    thread: threading.Thread | None = None
    shown: Callable[[str], str] = str  # the stored file's name in a text -> the uploaded one

    def on_step(self, step: Step) -> None:
        now = time.monotonic()
        step = Step(step.name, self.shown(step.label), step.detail)
        if self.step is not None:
            detail = self.step.detail() if self.step.detail else ""
            self.finished = (*self.finished, (self.step.label, now - self.step_started, detail))
        self.step, self.step_started = step, now

    def view(self) -> dict[str, Any]:
        step, now = self.step, time.monotonic()
        return {
            "step": step.label if step else "Starting",
            "detail": step.detail() if step and step.detail else "",
            "seconds": round(now - self.started),
            "steps": [{"label": label, "seconds": round(seconds, 1), "detail": detail}
                      for label, seconds, detail in self.finished],
        }


class Runs:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store
        self._executions: dict[int, Execution] = {}
        self._dry_runs: dict[int, DryRunning] = {}
        self._lock = threading.Lock()
        for run_id in store.runs_in_state("executing"):  # the server stopped mid-execute
            store.update_run(run_id, state="stopped", message="the server stopped during the "
                             "execute; the journal knows what was sent: execute again to finish")
        for run_id in store.runs_in_state("dry-running"):  # the server stopped mid-dry-run
            store.update_run(run_id, state="error", message="the server stopped during the dry "
                             "run, before it finished: dry-run it again")
        for run_id in store.runs_in_state("checking"):  # stopped re-checking before an execute
            run = store.run(run_id)
            store.update_run(run_id, state="stopped" if run and run["exec_report"] else
                             "approved", message="the server stopped while re-checking the run "
                             "before its execute; nothing was sent then: execute again")

    # jobs
    def jobs(self) -> list[Job]:
        root = self.settings.jobs_dir
        found = sorted(p for p in root.rglob("*.y*ml") if p.suffix in (".yaml", ".yml"))
        jobs = [self._job(p.relative_to(root).as_posix()) for p in found]
        return [j for j in jobs if j.spec is not None or _looks_like_a_job(j.text)]

    def job(self, name: str) -> Job:
        return self._job(name)

    def _job(self, name: str) -> Job:
        path = self._job_path(name)
        try:
            text = path.read_text(encoding="utf-8")
            return Job(name, api.load_spec(path), text=_without_userinfo(text))
        except BatchpayError as exc:
            text = path.read_text(encoding="utf-8", errors="replace")
            return Job(name, None, error=str(exc).replace(str(self.settings.jobs_dir) + "/", ""),
                       text=_without_userinfo(text))

    def _job_path(self, name: str) -> Path:
        root = self.settings.jobs_dir.resolve()
        path = (root / name).resolve()
        if not path.is_relative_to(root) or not path.is_file():
            raise WebError(f"no job {name!r}", 404)
        return path

    def add_job(self, filename: str, content: bytes) -> Job:
        """An admin's new job spec, validated like the CLI's before it is kept."""
        name = Path(filename).name
        if not name.endswith((".yaml", ".yml")) or name.startswith("."):
            raise WebError("a job spec is a .yaml file")
        target = self.settings.jobs_dir / "uploaded" / name
        if target.exists():
            raise WebError(f"a job spec named {name} exists already; rename the file")
        target.parent.mkdir(parents=True, exist_ok=True)
        staging = target.with_name(f".{name}.new")
        staging.write_bytes(content)
        try:
            api.load_spec(staging)
        except BatchpayError as exc:
            staging.unlink()
            raise WebError(str(exc).replace(str(staging), name)) from None
        staging.rename(target)
        job = self._job(f"uploaded/{name}")
        if job.spec is None:  # cannot happen: it loaded above
            raise WebError(job.error)
        return job

    # upload and dry run
    def upload(self, job_name: str, filename: str, content: bytes,
               user: str) -> tuple[int, list[int]]:
        """Store the file and start its dry run in the background; returns the run and earlier
        runs of the same file."""
        job = self.job(job_name)
        if job.spec is None:
            raise WebError(f"job {job_name} is not valid: {job.error}")
        if len(content) > self.settings.max_upload_bytes:
            raise WebError(f"the file is {len(content):,} bytes; the limit is "
                           f"{self.settings.max_upload_bytes:,}", 413)
        if not content:
            raise WebError("the file is empty")
        kind = _sniff(job.spec, filename, content)
        sha = hashlib.sha256(content).hexdigest()
        stored = self.settings.uploads / f"{sha}{_SUFFIXES[kind]}"
        if not stored.exists():
            stored.parent.mkdir(parents=True, exist_ok=True)
            stored.touch(mode=0o600)
            stored.write_bytes(content)
        spec_path = self._job_path(job_name)
        info = api.site_info(job.spec, self.settings.sandbox_state)
        run_id = self.store.add_run(
            job=job_name, spec_sha256=_sha_file(spec_path), file_name=Path(filename).name[:200],
            file_sha256=sha, stored_path=str(stored), size=len(content), uploaded_by=user,
            uploaded_at=time.time(), state="dry-running", target=info.label,
            live=int(info.is_live),
        )
        self.store.audit(user, "upload", run_id, f"{Path(filename).name} sha256 {sha}")
        self._start_dry_run(run_id, user)
        return run_id, self.store.earlier_runs_of_file(sha, run_id)

    def dry_run_again(self, run_id: int, user: str) -> None:
        """A run whose dry run failed or was cut short (a server restart): run it again, e.g.
        after the job spec was fixed."""
        run = self._run(run_id)
        if run["dry_report"] or not self.store.claim_run(run_id, ("error",), "dry-running"):
            raise WebError(f"run {run_id} is {run['state']}; only a run whose dry run did not "
                           "finish is dry-run again", 409)
        self.store.update_run(run_id, message="")
        self.store.audit(user, "dry run again", run_id)
        self._start_dry_run(run_id, user)

    def _start_dry_run(self, run_id: int, user: str) -> None:
        run = self._run(run_id)
        task = DryRunning(run_id, time.monotonic(), shown=lambda text: _as_uploaded(run, text))
        task.thread = threading.Thread(target=self._dry_run_in_background,
                                       args=(run_id, user, task), daemon=True,
                                       name=f"batchpay-dry-run-{run_id}")
        with self._lock:
            self._dry_runs[run_id] = task
        task.thread.start()

    def _dry_run_in_background(self, run_id: int, user: str, task: DryRunning) -> None:
        try:
            self.dry_run(run_id, user, on_step=task.on_step)
            self.store.update_run(run_id, state="dry-run", message="")
        except WebError:  # recorded by dry_run; written again, it could undo a "Dry run again"
            pass
        except Exception as exc:  # the thread must record why it ended, whatever happened
            self.store.update_run(run_id, state="error", message=f"internal error: {exc!r}")
            self.store.audit(user, "dry run", run_id, "internal error")
            raise
        finally:
            self._forget_task(task)

    def _forget_task(self, task: DryRunning) -> None:
        """Drop a dry run's or re-check's entry when it ends (a step's detail holds the engine's
        objects: not kept for the server's life), unless the run's entry is a newer task's
        already: a "Dry run again" or an "Execute" clicked as soon as this one set the state."""
        with self._lock:
            if self._dry_runs.get(task.run_id) is task:
                del self._dry_runs[task.run_id]

    def dry_running(self, run_id: int) -> DryRunning | None:
        with self._lock:
            return self._dry_runs.get(run_id)

    def dry_run(self, run_id: int, user: str, on_step: OnStep | None = None) -> RunResult:
        run = self._run(run_id)
        try:
            spec_path = self._job_path(run["job"])
        except WebError as exc:  # e.g. the job spec was removed since the upload
            self.store.update_run(run_id, state="error", message=str(exc))
            raise
        with job_currencies(spec_path):  # this job's, in this thread: not any other job's
            return self._dry_run(run, user, spec_path, on_step)

    def _dry_run(self, run: dict[str, Any], user: str, spec_path: Path,
                 on_step: OnStep | None) -> RunResult:
        run_id = run["id"]
        options = self._options("dry-run")
        options.on_step = on_step
        path = self.settings.reports / f"run-{run_id}-dry-run.xlsx"
        try:
            report = api.run_and_report(spec_path, Path(run["stored_path"]), options, path)
        except BatchpayError as exc:
            message = _as_uploaded(run, str(exc))
            self.store.update_run(run_id, state="error", message=message)
            self.store.audit(user, "dry run", run_id, f"refused: {message}")
            raise WebError(message) from None
        if on_step is not None:
            on_step(Step("save", f"Saving {len(report.result.outcomes):,} rows for review"))
        self.store.put_rows(run_id, "dry", _rows(report.result))
        self.store.update_run(run_id, dry_hash=outcomes_hash(report.result),
                              dry_report=str(report.path), dry_summary=json.dumps(
                                  summary(report.result)), spec_sha256=_sha_file(spec_path),
                              target=report.result.info.target)
        self.store.audit(user, "dry run", run_id, _counts_text(report.result))
        return report.result

    # approval
    def request_approval(self, run_id: int, user: str) -> None:
        run = self._run(run_id)
        if run["state"] not in ("dry-run", "rejected"):
            raise WebError(f"run {run_id} is {run['state']}; approval can be requested after "
                           "a dry run", 409)
        self.store.update_run(run_id, state="pending", message="")
        self.store.audit(user, "request approval", run_id)
        below = self._below_threshold(run)
        if below:
            binding = (run["file_sha256"], run["spec_sha256"], run["dry_hash"])
            self.store.add_approval(run_id, THRESHOLD_APPROVER, "approved", below, binding)
            self.store.update_run(run_id, state="approved")
            self.store.audit(THRESHOLD_APPROVER, "approve", run_id, below)

    def _below_threshold(self, run: dict[str, Any]) -> str:
        """Why the run needs no second person (the job's approval.required_above), else ''."""
        spec = self.job(run["job"]).spec
        if spec is None:
            return ""
        with declared_currencies(spec.currencies):
            return self._within(run, spec)

    def _within(self, run: dict[str, Any], spec: JobSpec) -> str:
        limits = spec.approval.thresholds_minor()
        if limits is None:
            return ""
        to_post = run["dry_summary"]["to_post"]
        totals = {c: int(v) for c, v in to_post["totals"].items()}
        if any(c not in limits or v > limits[c] for c, v in totals.items()):
            return ""
        if to_post.get("unpriced", 0):  # rows whose amount the dry run cannot know
            return ""
        shown = ", ".join(f"{format_amount(v, c)} {c}" for c, v in sorted(totals.items()))
        return (f"would post {shown or 'nothing'}: within the job's approval.required_above, "
                "so no second approver is needed")

    def decide(self, run_id: int, user: str, decision: str, comment: str) -> None:
        run = self._run(run_id)
        if run["uploaded_by"] == user:
            raise WebError("four eyes: you uploaded this run, so someone else must approve it",
                           403)
        if run["state"] != "pending":
            raise WebError(f"run {run_id} is {run['state']}, not waiting for approval", 409)
        if decision == "rejected" and not comment.strip():
            raise WebError("say why the run is rejected (comment)")
        binding = (run["file_sha256"], run["spec_sha256"], run["dry_hash"])
        self.store.add_approval(run_id, user, decision, comment.strip(), binding)
        self.store.update_run(run_id, state=decision, message="", changes="{}")
        self.store.audit(user, "approve" if decision == "approved" else "reject", run_id,
                         comment.strip()[:500])

    def valid_approval(self, run: dict[str, Any]) -> dict[str, Any] | None:
        for approval in reversed(self.store.approvals(run["id"])):
            if approval["decision"] == "approved" and not approval["void_reason"]:
                return approval
        return None

    # execute
    def execute(self, run_id: int, user: str) -> None:
        """Refuse at once what needs no dry run (no valid approval, a live site not allowed, an
        execute of the site running), then re-check in the background (state ``checking``):
        the execute starts if nothing changed since approval; else the approval is void and
        the changes are kept with the run for its page."""
        run = self._run(run_id)
        # Claimed in one UPDATE: a double click or a second person cannot start it twice.
        if not self.store.claim_run(run_id, ("approved", "stopped"), "checking"):
            state = self._run(run_id)["state"]
            raise WebError(f"run {run_id} is {state}; only an approved run executes", 409)
        try:
            site = self._may_execute(run)
        except BaseException:
            self.store.update_run(run_id, state=run["state"])
            raise
        self.store.update_run(run_id, message="", changes="{}")
        task = DryRunning(run_id, time.monotonic(), shown=lambda text: _as_uploaded(run, text))
        task.thread = threading.Thread(target=self._recheck_in_background,
                                       args=(run, user, site, task), daemon=True,
                                       name=f"batchpay-recheck-{run_id}")
        with self._lock:
            self._dry_runs[run_id] = task
        task.thread.start()

    def _may_execute(self, run: dict[str, Any]) -> str:
        """The site the run would post to, unless the run may not execute now."""
        if self.valid_approval(run) is None:
            raise WebError(f"run {run['id']} has no valid approval", 409)
        job = self.job(run["job"])
        if job.spec is None:
            raise WebError(f"job {run['job']} is not valid: {job.error}")
        info = api.site_info(job.spec, self.settings.sandbox_state)
        if info.is_live and not info.allow_live:
            raise WebError(f"{info.label} is a live site; the job must set site.allow_live: true "
                           "to post to it", 403)
        self._refuse_if_busy(info.site)
        return info.site

    def _recheck_in_background(self, run: dict[str, Any], user: str, site: str,
                               task: DryRunning) -> None:
        try:
            self._recheck_and_start(run, user, site, task.on_step)
        except WebError as exc:  # e.g. the site refused the API key: nothing was sent
            self._recheck_failed(run, user, str(exc))
        except Exception as exc:  # the thread must record why it ended, whatever happened
            self._recheck_failed(run, user, f"internal error: {exc!r}")
            raise
        finally:
            self._forget_task(task)

    def _recheck_failed(self, run: dict[str, Any], user: str, message: str) -> None:
        """Back to where the run was (approved, or stopped part-way), with the reason."""
        self.store.update_run(run["id"], state=run["state"], message=message)
        self.store.audit(user, "execute refused", run["id"], message[:500])

    def _recheck_and_start(self, run: dict[str, Any], user: str, site: str,
                           on_step: OnStep) -> None:
        run_id = run["id"]
        approval = self.valid_approval(run)
        if approval is None:  # voided meanwhile: cannot happen while the run is checking
            raise WebError(f"run {run_id} has no valid approval", 409)
        void = self._binding_changed(run, approval)
        if void:
            self._void(run_id, user, void, [{"line": "", "was": "", "now": void}])
            return
        before = self.store.outcomes(run_id, "dry")
        # A stopped run executes again: the rows it posted are now expected to be skipped.
        posted = {p for p, row in self.store.outcomes(run_id, "exec").items()
                  if row["outcome"] == "posted"} if run["state"] == "stopped" else set()
        self.dry_run(run_id, user, on_step=on_step)
        after = self._run(run_id)
        if after["dry_hash"] != approval["dry_hash"]:
            changes = _changes(before, self.store.outcomes(run_id, "dry"), posted)
            if changes:
                self._void(run_id, user, f"{len(changes)} row(s) would now go differently",
                           changes)
                return
        self._start(after, user, site)

    def _refuse_if_busy(self, site: str) -> None:
        with self._lock:
            if self._site_executing(site):
                raise WebError(f"an execute for site {site} is running; wait for it to finish "
                               "— running both could post twice", 409)
        busy = api.execute_busy(site)
        if busy:
            raise WebError(busy, 409)

    def _site_executing(self, site: str) -> bool:
        return any(e.site == site and e.thread and e.thread.is_alive()
                   for e in self._executions.values())

    def _binding_changed(self, run: dict[str, Any], approval: dict[str, Any]) -> str:
        if _sha_file(Path(run["stored_path"])) != approval["file_sha256"]:
            return "the uploaded file changed after approval"
        if _sha_file(self._job_path(run["job"])) != approval["spec_sha256"]:
            return "the job spec changed after approval"
        return ""

    def _void(self, run_id: int, user: str, reason: str, changes: list[dict[str, Any]]) -> None:
        self.store.void_approvals(run_id, reason)
        shown = {"rows": changes[:MAX_CHANGES_SHOWN],
                 "more": max(len(changes) - MAX_CHANGES_SHOWN, 0)}
        self.store.update_run(run_id, state="pending", changes=json.dumps(shown),
                              message=f"approval void: {reason}; approve again")
        self.store.audit(user, "approval void", run_id, reason)

    def _start(self, run: dict[str, Any], user: str, site: str) -> None:
        execution = Execution(run["id"], site, time.monotonic())
        expected = run["dry_summary"].get("to_post", {})
        execution.thread = threading.Thread(target=self._execute_in_background,
                                            args=(run, user, execution, expected), daemon=True,
                                            name=f"batchpay-execute-{run['id']}")
        with self._lock:  # another run's re-check may have started the site's execute meanwhile
            if self._site_executing(site):
                raise WebError(f"an execute for site {site} started while this run was "
                               "re-checked; execute again once it has finished", 409)
            self._executions[run["id"]] = execution
        self.store.update_run(run["id"], state="executing", executed_by=user,
                              executed_at=time.time(), message="")
        self.store.audit(user, "execute", run["id"], f"target {run['target']}")
        execution.thread.start()

    def _execute_in_background(self, run: dict[str, Any], user: str, execution: Execution,
                               expected: dict[str, Any]) -> None:
        def progress(p: Progress) -> None:
            execution.progress = p

        def confirm(plan: PlanSummary) -> bool:
            # The engine's own checks just before sending must match the approved dry run.
            return plan.rows == expected.get("rows") and plan.totals == {
                c: int(v) for c, v in expected.get("totals", {}).items()}

        options = self._options("execute")
        options.on_progress, options.stop, options.confirm = progress, execution.stop, confirm
        path = self.settings.reports / f"run-{run['id']}-execute.xlsx"
        # this job's currencies, in this thread: not any other job's
        with job_currencies(self.settings.jobs_dir / run["job"]):
            self._execute(run, user, options, path)

    def _execute(self, run: dict[str, Any], user: str, options: api.RunOptions,
                 path: Path) -> None:
        try:
            report = api.run_and_report(self._job_path(run["job"]), Path(run["stored_path"]),
                                        options, path)
        except BatchpayError as exc:
            self.store.update_run(run["id"], state="error", message=str(exc))
            self.store.audit(user, "execute ended", run["id"], f"refused: {exc}")
            return
        except Exception as exc:  # the thread must record why it ended, whatever happened
            self.store.update_run(run["id"], state="error", message=f"internal error: {exc!r}")
            self.store.audit(user, "execute ended", run["id"], "internal error")
            raise
        result = report.result
        self.store.put_rows(run["id"], "exec", _rows(result))
        state = "stopped" if result.info.interrupted else "executed"
        self.store.update_run(run["id"], state=state, exec_report=str(report.path),
                              exec_summary=json.dumps(summary(result)))
        self.store.audit(user, "execute ended", run["id"], f"{state}: {_counts_text(result)}")

    def stop(self, run_id: int, user: str) -> None:
        with self._lock:
            execution = self._executions.get(run_id)
        if execution is None or execution.thread is None or not execution.thread.is_alive():
            state = self._run(run_id)["state"]  # e.g. checking: its re-check sends nothing
            raise WebError(f"run {run_id} is {state}, not executing: nothing to stop", 409)
        execution.stop.set()
        self.store.audit(user, "stop", run_id)

    def execution(self, run_id: int) -> Execution | None:
        with self._lock:
            return self._executions.get(run_id)

    def wait(self, run_id: int, timeout: float = 60.0) -> None:
        """For tests and shutdown: wait for a background dry run or re-check, then for the
        execute it may have started, to end."""
        for task in (self.dry_running, self.execution):  # the execute known after the re-check
            found = task(run_id)
            if found is not None and found.thread is not None:
                found.thread.join(timeout)

    def report_path(self, run: dict[str, Any], phase: str, kind: str) -> Path:
        workbook = run["dry_report"] if phase == "dry" else run["exec_report"]
        if not workbook:
            raise WebError("no report for this run yet", 404)
        path = Path(workbook)
        return path if kind == "xlsx" else path.with_suffix(".json")

    def _run(self, run_id: int) -> dict[str, Any]:
        run = self.store.run(run_id)
        if run is None:
            raise WebError(f"no run {run_id}", 404)
        return run

    def _options(self, mode: str) -> api.RunOptions:
        return api.RunOptions(mode=mode,  # type: ignore[arg-type]
                              sandbox_state=self.settings.sandbox_state,
                              journal_path=self.settings.journal, env=self.settings.env)


def _as_uploaded(run: dict[str, Any], text: str) -> str:
    """A text naming the stored upload (``uploads/<sha256>.csv``) as the user knows it."""
    stored = Path(run["stored_path"])
    return text.replace(str(stored), run["file_name"]).replace(stored.name, run["file_name"])


def _without_userinfo(text: str) -> str:
    """The spec's text as shown on a page: a URL's user info (``https://user:password@``, which
    batchpay refuses in a spec) masked, so a secret written there never reaches a page."""
    return _USERINFO.sub(r"\1***@", text)


def _looks_like_a_job(text: str) -> bool:
    """Other YAML in the folder (e.g. a sandbox seed) is not listed; a broken job spec is."""
    return any(line.startswith(("name:", "fields:", "action:")) for line in text.splitlines())


def _sniff(spec: JobSpec, filename: str, content: bytes) -> str:
    """The file's kind from its bytes, which must agree with the job's input format."""
    head = content[:8]
    kind = next((k for k, magics in _SNIFF.items() if head.startswith(magics)), None)
    if kind == "xlsx" and filename.lower().endswith(".ods"):
        kind = "ods"
    if kind is None:
        wide = (spec.input.encoding or "").lower().replace("-", "").startswith(("utf16", "utf32"))
        wide = wide or content.startswith((b"\xff\xfe", b"\xfe\xff"))  # a UTF-16/32 BOM
        if b"\x00" in content[:65536] and not wide:
            raise WebError(f"{filename}: not a text (CSV) file nor a spreadsheet this job reads")
        kind = "csv"
    expected = spec.input.format or kind
    same_family = {expected, kind} <= {"xlsx", "ods"}
    if kind != expected and not same_family:
        raise WebError(f"{filename}: the file's content is {kind.upper()}, but job {spec.name} "
                       f"reads {expected.upper()} files")
    return expected if same_family else kind


def _sha_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def outcomes_hash(result: RunResult) -> str:
    """What the dry run predicts, row by row: an approval is bound to exactly this."""
    digest = hashlib.sha256()
    for o in result.outcomes:
        digest.update(json.dumps(_prediction(o)).encode() + b"\n")
    return digest.hexdigest()


def _prediction(o: RowOutcome) -> list[Any]:
    return [str(o.origin), o.outcome.category, o.action, o.invoice_id, o.currency,
            o.amount_minor, o.idempotency_key]


def summary(result: RunResult) -> dict[str, Any]:
    """Control totals per currency (the run's JSON summary's: money in and the money out that
    was skipped kept apart), counts per category, and what execute is to post."""
    totals = [_currency_view(t) for t in summary_dict(result)["control_totals"]]
    to_post: dict[str, int] = {}
    rows = unpriced = 0
    for o in result.outcomes:
        if o.outcome.category == "posted" and o.outcome.value == "would post":
            rows += 1
            if o.currency and o.amount_minor is not None:
                to_post[o.currency] = to_post.get(o.currency, 0) + o.amount_minor
            else:  # e.g. a grouped apply_payments row that applies what is unused
                unpriced += 1
    return {
        "totals": totals, "counts": api.category_counts(result.outcomes),
        "notes": list(result.info.notes), "target": result.info.target,
        "rows_read": result.info.rows_read,
        "to_post": {"rows": rows, "totals": to_post, "unpriced": unpriced,
                    "texts": {c: format_amount(v, c) for c, v in to_post.items()}},
        "interrupted": result.info.interrupted,
    }


def _currency_view(t: dict[str, Any]) -> dict[str, Any]:
    currency = t["currency"]
    return {"currency": currency, "balanced": t["balanced"],
            "read": _amount(t["read"], currency),
            "categories": {name: _amount(v, currency) for name, v in t["by_category"].items()},
            "money_out": _amount(t["money_out"], currency)}


def _amount(total: dict[str, Any], currency: str) -> dict[str, Any]:
    """A JSON summary total as the page shows it; no amount in an unknown currency."""
    minor = total["amount_minor"]
    text = format_amount(minor, currency) if minor is not None else ""
    return {"count": total["count"], "minor": minor, "text": text}


def _rows(result: RunResult) -> Iterator[tuple[int, str, str, dict[str, Any], str]]:
    for position, o in enumerate(result.outcomes):
        data = _row_view(position, o)
        search = " ".join(str(v) for v in (
            data["line"], o.invoice_id, o.customer_id, o.business_key, o.reason,
            *o.raw.values())).lower()
        yield position, o.outcome.category, o.outcome.value, data, search


def _row_view(position: int, o: RowOutcome) -> dict[str, Any]:
    amount = format_amount(o.amount_minor, o.currency) \
        if o.amount_minor is not None and o.currency else ""
    return {
        "position": position, "line": str(o.origin), "outcome": o.outcome.value,
        "category": o.outcome.category, "action": o.action or "", "invoice": o.invoice_id or "",
        "customer": o.customer_id or "", "currency": o.currency or "", "amount": amount,
        "amount_minor": o.amount_minor, "date": o.date.date().isoformat() if o.date else "",
        "business_key": o.business_key or "", "reason": o.reason,
        "call": _call_text(o, amount), "transaction": o.transaction_id or "",
        "key": o.idempotency_key or "",
        "failures": [{"column": f.column, "value": f.value, "problem": f.problem,
                      "expected": f.expected} for f in o.failures],
        "source": {k: v for k, v in list(o.raw.items())[:20]},
    }


def _call_text(o: RowOutcome, amount: str) -> str:
    if not o.action:
        return ""
    parts = [f"invoice {o.invoice_id}" if o.invoice_id else "",
             f"customer {o.customer_id}" if o.customer_id and not o.invoice_id else "",
             f"{amount} {o.currency}" if amount else "", o.payment_method or "",
             o.date.date().isoformat() if o.date else ""]
    return f"{o.action}(" + ", ".join(p for p in parts if p) + ")"


def _changes(before: dict[int, dict[str, Any]], after: dict[int, dict[str, Any]],
             settled: set[int] = frozenset()) -> list[dict[str, Any]]:  # type: ignore[assignment]
    changes = []
    for position in sorted((set(before) | set(after)) - settled):
        was, now = before.get(position), after.get(position)
        if was is None or now is None or _key(was) != _key(now):
            changes.append({"line": (now or was or {}).get("line", ""),
                            "was": _describe(was), "now": _describe(now)})
    return changes


def _key(row: dict[str, Any]) -> tuple[Any, ...]:
    return (row["category"], row["action"], row["invoice"], row["currency"], row["amount_minor"],
            row["key"])


def _describe(row: dict[str, Any] | None) -> str:
    if row is None:
        return "(no such row)"
    return f"{row['outcome']}: {row['reason']}" if row["reason"] else row["outcome"]


def _counts_text(result: RunResult) -> str:
    counts = api.category_counts(result.outcomes)
    words = {"posted": "would post", "failed": "would fail"} \
        if result.info.mode == "dry-run" else {}
    return ", ".join(f"{words.get(name, name.replace('_', ' '))} {n}"
                     for name, n in counts.items())
