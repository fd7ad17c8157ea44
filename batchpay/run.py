"""One run of a job on a file: validate, dry run (the default) or execute.

    prepare (read, parse, filter, validate) -> plan -> journal -> live checks -> [execute]
                                                                      -> RunResult -> report

The library never prompts or prints: the caller passes ``confirm`` and ``on_progress``.
"""

from __future__ import annotations

import asyncio
import getpass
import json
import os
import signal
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import httpx

from batchpay import __version__
from batchpay.chargebee.client import ChargebeeClient, suppression_headers
from batchpay.chargebee.retry import RetryPolicy
from batchpay.checks import Prediction, SiteState, pays_invoice, predict, read_state
from batchpay.errors import RunRefused
from batchpay.execute import (
    WINDOW_EXPIRED,
    CallResult,
    Executor,
    LimitedTransport,
    Progress,
    ReadRetryTransport,
)
from batchpay.fields import used_columns
from batchpay.journal import (
    FAILED,
    IN_FLIGHT,
    NEEDS_REVIEW,
    POSTED,
    Entry,
    Journal,
    check_journal_file,
    journal_id_of,
)
from batchpay.money import format_amount
from batchpay.plan import (
    Plan,
    PlannedCall,
    PlannedRow,
    note_customers,
    outcome_for,
    plan,
    regroup,
    row_business_keys,
)
from batchpay.posted import (
    base_reference,
    changed_reason,
    moves_other_money,
    same_money,
    sibling_keys,
    sibling_reason,
    statement_key,
    unclaimed,
)
from batchpay.prepare import PreparedInput, prepare
from batchpay.progress import OnStep, announce
from batchpay.ratelimit import SlidingWindowLimiter
from batchpay.records import Outcome, RowOutcome, RunInfo, RunResult
from batchpay.siteid import SANDBOX
from batchpay.sitestate import JournalRecord, SiteRegister, default_state_dir, site_lock
from batchpay.spec import JobSpec, job_currencies, load_spec
from batchpay.target import DEFAULT_SANDBOX_STATE, Target, planned_site, resolve_target

Mode = Literal["validate", "dry-run", "execute"]
IDEMPOTENCY_WINDOW = 30 * 60.0  # Chargebee keeps idempotency keys this long
RESEND_MARGIN = 2 * 60.0  # re-send an unfinished call only while well inside the window
DEFAULT_JOURNAL = Path("reports") / "batchpay-journal.sqlite"
PREDICTED = "predicted by batchpay, not sent"
GROUP_SOURCE = "(its payment's unused amount, at most what the invoice has left due)"
# A card the gateway refused: re-sending the same collection would charge at it again.
DECLINES = frozenset({"payment_processing_failed", "payment_method_verification_failed"})


@dataclass(frozen=True)
class PlanSummary:
    """What execute is about to do, for the confirmation prompt."""

    calls: int
    rows: int
    totals: dict[str, int]  # currency -> minor units to post
    skipped: int
    failing: int
    invalid: int
    target: str


@dataclass
class RunOptions:
    mode: Mode = "dry-run"
    offline: bool = False
    skip_invalid: bool = False
    allow_live: bool = False
    site: str | None = None
    base_url: str | None = None
    sandbox_state: Path = DEFAULT_SANDBOX_STATE
    target: Target | None = None  # a ready target (e.g. a sandbox with faults); overrides site
    journal_path: Path | None = None
    forget_missing_journals: bool = False  # after checking the site by hand (execute only)
    state_dir: Path = field(default_factory=default_state_dir)  # execute locks, journal register
    rate_per_minute: int | None = None
    concurrency: int | None = None
    policy: RetryPolicy = field(default_factory=RetryPolicy)
    confirm: Callable[[PlanSummary], bool] | None = None
    on_progress: Callable[[Progress], None] | None = None
    stop: threading.Event | None = None  # set from another thread: stops like Ctrl-C (web Stop)
    on_step: OnStep | None = None  # each long step as it starts (read ... execute)
    env: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    clock: Callable[[], float] = time.time
    retry_failed: bool = False  # send again collections an earlier run saw declined


def run_job(spec_path: Path, input_path: Path, options: RunOptions) -> RunResult:
    """Run ``spec_path`` on ``input_path`` as ``options.mode`` says; return every row's outcome."""
    with job_currencies(spec_path):
        return _run_job(spec_path, input_path, options)


def _run_job(spec_path: Path, input_path: Path, options: RunOptions) -> RunResult:
    started = datetime.now(UTC)
    spec = load_spec(spec_path)
    check_journal_file(_journal_path(spec, options))
    prepared = prepare(spec, input_path, spec_dir=spec_path.parent, on_step=options.on_step)
    local = options.mode == "validate" or options.offline
    target = None if local else options.target or resolve_target(
        spec, site=options.site, base_url=options.base_url,
        sandbox_state=options.sandbox_state, env=options.env, state_dir=options.state_dir,
    )
    site = target.site if target else planned_site(
        spec, site=options.site, base_url=options.base_url, sandbox_state=options.sandbox_state,
    )
    planned = plan(prepared, site, spec.api_version)
    outcomes: dict[int, RowOutcome] = {**prepared.outcomes, **planned.outcomes}
    if options.mode == "execute":
        _refuse_invalid(outcomes, options)
    notes: list[str] = prepared.table.dropped_notes()  # footer/marker rows: never silent
    if target is None:
        notes.append("no live checks: nothing was read from or sent to Chargebee")
        _offline_outcomes(planned.calls, outcomes)
    else:
        if target.embedded:
            notes.append("target: the built-in sandbox (no real Chargebee account involved)")
        if options.mode == "execute" and target.is_live and not (
            options.allow_live or spec.site.allow_live
        ):
            raise RunRefused(
                f"{target.label} is a live site; posting to it needs --allow-live "
                "(or site.allow_live: true in the job)"
            )
        asyncio.run(_live(spec, prepared, planned, target, options, outcomes, notes))
    info = _info(spec, input_path, prepared, options, target, started, notes)
    ordered = [outcomes[p] for p in sorted(outcomes)]
    return RunResult(info=info, outcomes=ordered)


def _refuse_invalid(outcomes: Mapping[int, RowOutcome], options: RunOptions) -> None:
    invalid = [outcomes[p] for p in sorted(outcomes) if outcomes[p].outcome is Outcome.INVALID]
    if invalid and not options.skip_invalid:
        first = invalid[0].failures[0] if invalid[0].failures else invalid[0].reason
        raise RunRefused(
            f"{len(invalid)} row(s) are invalid (first: {first}); fix them, or pass "
            "--skip-invalid to post the valid rows only"
        )


def _offline_outcomes(calls: Sequence[PlannedCall], outcomes: dict[int, RowOutcome]) -> None:
    for call in calls:
        for planned in call.rows:
            row = outcome_for(planned, Outcome.WOULD_POST, "valid; not checked against the site")
            row.idempotency_key = call.key
            outcomes[planned.row.position] = row


async def _live(
    spec: JobSpec,
    prepared: PreparedInput,
    planned: Plan,
    target: Target,
    options: RunOptions,
    outcomes: dict[int, RowOutcome],
    notes: list[str],
) -> None:
    rate = options.rate_per_minute or spec.site.rate_per_minute
    concurrency = options.concurrency or spec.site.concurrency
    limiter = SlidingWindowLimiter(rate)
    inner = target.transport or httpx.AsyncHTTPTransport(
        limits=httpx.Limits(max_connections=concurrency)
    )
    journal_path = _journal_path(spec, options)
    with ExitStack() as stack:
        if options.mode == "execute" and target.site != SANDBOX:  # SANDBOX: one in memory
            stack.enter_context(site_lock(options.state_dir, target.site))
        dry = options.mode != "execute" and not journal_path.exists()
        journal = Journal(None if dry else journal_path, clock=options.clock)
        stack.callback(journal.close)
        register = None if target.site == SANDBOX else SiteRegister(options.state_dir, target.site)
        lost = _missing_journals(register, journal, options, notes)
        async with ChargebeeClient(
            target.base_url, target.api_key,
            transport=ReadRetryTransport(LimitedTransport(inner, limiter), options.policy, limiter),
            max_connections=concurrency,
        ) as client:
            run = _LiveRun(spec, planned, target, options, journal, client, limiter, outcomes,
                           notes, register, journal_path, lost)
            await run.go(concurrency)


def _short_label(target: Target) -> str:
    """The target as a progress line names it: the sandbox's state path would push the line
    past 80 columns, and the run's notes and report name it anyway."""
    return "the built-in sandbox" if target.embedded else target.label


def _requests(n: int) -> str:
    return f"{n:,} request" + ("" if n == 1 else "s")


def _missing_journals(
    register: SiteRegister | None, journal: Journal, options: RunOptions, notes: list[str]
) -> list[JournalRecord]:
    """The journals that posted to the site and are gone (deleted with reports/, replaced by
    a new file): what they recorded is unknown to this run. A journal moved elsewhere and
    named with --journal (or still at another recorded path) is not missing. Forgotten on
    request (execute)."""
    if register is None:
        return []
    records = register.records()
    present = {journal.journal_id, *(journal_id_of(Path(r.path)) for r in records)}
    lost = [r for r in records if r.journal_id not in present]
    if lost and options.forget_missing_journals and options.mode == "execute":
        register.forget(lost)
        notes.append(f"forgot {len(lost)} missing journal(s) of this site, as asked: "
                     + ", ".join(r.path for r in lost))
        return []
    if lost:
        notes.append(
            f"journal(s) that recorded posts to this site are missing: "
            f"{', '.join(r.path for r in lost)}; rows whose posting leaves no trace on the site "
            "need review (restore the journal, or check in Chargebee and pass "
            "--forget-missing-journals)"
        )
    return lost


def _journal_path(spec: JobSpec, options: RunOptions) -> Path:
    if options.journal_path is not None:
        return options.journal_path
    return Path(spec.journal) if spec.journal else DEFAULT_JOURNAL


@dataclass
class _LiveRun:
    """The remote part of a dry run or an execute."""

    spec: JobSpec
    planned: Plan
    target: Target
    options: RunOptions
    journal: Journal
    client: ChargebeeClient
    limiter: SlidingWindowLimiter
    outcomes: dict[int, RowOutcome]
    notes: list[str]
    register: SiteRegister | None = None
    journal_path: Path | None = None
    lost: list[JournalRecord] = field(default_factory=list)  # journals of the site now missing
    state: SiteState | None = None
    # (key, currency, row business key -> minor units) of the calls this run posted
    moved: list[tuple[str, str, dict[str, int]]] = field(default_factory=list)

    async def go(self, concurrency: int) -> None:
        announce(self.options.on_step, "check",
                 f"Checking {len(self.planned.calls):,} calls against {_short_label(self.target)}",
                 lambda: _requests(self.client.calls_made))
        calls = self._without_earlier_rows(self.planned.calls)
        entries = self.journal.lookup(self.target.site, [c.key for c in calls])
        legacy = self._legacy_entries([c for c in calls if c.key not in entries])
        entries.update(legacy)
        calls = self._without_declined(calls, entries)
        done, resend, check = self._sort_by_journal(calls, entries, set(legacy))
        done = self._posted_alike(done)
        check = self._without_numbered_elsewhere(check, entries, done)
        for call, entry in done:
            self._record_posted(call, entry, None)
        predictions = await self._check_site(check, entries)
        for call in resend:
            predictions[call.key] = Prediction(
                Outcome.WOULD_POST, "unfinished in an earlier run; re-sent with the same key"
            )
        self._guard_lost_journals(check, entries, predictions)
        to_send = self._apply_predictions(calls, predictions)
        if self.options.mode != "execute":
            return
        self._confirm(to_send, predictions)
        if to_send and self.register is not None and self.journal_path is not None:
            self.register.add(self.journal_path.resolve(), self.journal.journal_id)
        announce(self.options.on_step, "execute", f"Sending {len(to_send):,} calls")
        deadlines = {c.key: _resend_deadline(entries[c.key]) for c in resend}
        await self._execute(to_send, concurrency, predictions, deadlines)

    def _without_declined(
        self, calls: list[PlannedCall], entries: Mapping[str, Entry]
    ) -> list[PlannedCall]:
        """A collection an earlier run saw declined is failed, not retried: sending the same
        call again would charge the card again. A changed row is another call (another key);
        ``retry_failed`` sends it anyway."""
        if self.options.retry_failed:
            return calls
        kept = []
        for call in calls:
            entry = entries.get(call.key)
            if entry is None or not _declined(call, entry):
                kept.append(call)
                continue
            outcome = Outcome.FAILED if self.options.mode == "execute" else Outcome.WOULD_FAIL
            reason = (f"declined in an earlier run on {_when(entry.settled_at)} "
                      f"({entry.message}); failed, not retried: change the row or run with "
                      "--retry-failed to charge the card again")
            self._record(call, outcome, reason, http_status=entry.http_status,
                         api_error_code=entry.api_error_code)
        return kept

    def _posted_alike(
        self, done: list[tuple[PlannedCall, Entry]]
    ) -> list[tuple[PlannedCall, Entry]]:
        """Posted keys whose journal request moves the money the row asks (skipped as before);
        a posted key that moved other money is another payment under the same key: needs
        review, never skipped, never sent. A grouped apply_payments call is left alone: its
        rows may come in another order, and each has its own journal path."""
        return [(call, entry) for call, entry in done if not self._posted_otherwise(call, entry)]

    def _posted_otherwise(self, call: PlannedCall, entry: Entry) -> bool:
        """Whether ``entry``, posted with ``call``'s key, moved other money than ``call`` asks
        (then recorded needs review)."""
        posted = moves_other_money(call, entry) if len(call.rows) == 1 else None
        if posted is None:
            return False
        when = _when(entry.settled_at or entry.first_sent_at)
        self._record(call, Outcome.NEEDS_REVIEW, changed_reason(entry, posted, call, when))
        return True

    def _without_numbered_elsewhere(
        self, calls: list[PlannedCall], entries: Mapping[str, Entry],
        alike: Sequence[tuple[PlannedCall, Entry]],
    ) -> list[PlannedCall]:
        """A statement row the journal does not know, whose money the journal posted under
        another number of its bank reference (B1 for B1/2) that no row of this file claims:
        needs review, not sent (see batchpay.posted)."""
        claimed = {call.key: call for call, _ in alike}
        found: dict[tuple[str, str, str], list[tuple[str, Entry]]] = {}
        kept = []
        for call in calls:
            where = statement_key(call) if call.key not in entries else None
            if where is None:
                kept.append(call)
                continue
            account, base = where[0], base_reference(where[1])
            if (call.action, account, base) not in found:
                posted = self.journal.posted_under(self.target.site, call.action,
                                                   *sibling_keys(account, base))
                found[(call.action, account, base)] = unclaimed(posted, claimed)
            match = same_money(call, found[(call.action, account, base)])
            if match is None:
                kept.append(call)
            else:
                reference, entry, money = match
                self._record(call, Outcome.NEEDS_REVIEW,
                             sibling_reason(reference, entry, money, _when(entry.settled_at)))
        return kept

    def _guard_lost_journals(
        self, calls: Sequence[PlannedCall], entries: Mapping[str, Entry],
        predictions: dict[str, Prediction],
    ) -> None:
        """With a journal of the site missing, a call this journal does not know that would
        post, of an action that leaves no trace the site can show, may have been posted by
        the lost journal's run: needs review, never sent. Calls the site can show (a v2
        payment by reference, an invoice's status, an application's linked payment) are
        decided from the site."""
        if not self.lost:
            return
        missing = self.lost[0]
        for call in calls:
            prediction = predictions.get(call.key)
            if call.key in entries or prediction is None or (
                prediction.outcome is not Outcome.WOULD_POST
            ):
                continue
            if call.action == "apply_payments":
                applied = self._already_applied(call)
                if applied:
                    predictions[call.key] = Prediction(Outcome.SKIPPED, applied)
                continue
            if self._site_shows(call):
                continue
            predictions[call.key] = Prediction(Outcome.NEEDS_REVIEW, (
                f"the journal {missing.path}, which recorded posts to this site since "
                f"{_when(missing.since)}, is missing; a {call.action} leaves no trace batchpay "
                "can look up on the site, so this row may have been posted already: restore "
                "that journal (or name it with --journal), or check in Chargebee and run again "
                "with --forget-missing-journals"
            ))

    def _site_shows(self, call: PlannedCall) -> bool:
        """Whether the live checks read this call's effect from the site (so they decided)."""
        if call.action == "close_invoice":
            return True
        return (call.action == "record_payment" and self.spec.api_version == "v2"
                and bool(call.params.get("reference_number")))

    def _already_applied(self, call: PlannedCall) -> str | None:
        invoice = (self.state.invoices if self.state else {}).get(call.invoice_id or "") or {}
        linked = {p.get("txn_id") for p in invoice.get("linked_payments") or []}
        wanted = [str(t) for t, _ in call.params.get("transactions") or []]  # type: ignore[attr-defined]
        if wanted and all(t in linked for t in wanted):
            return (f"already applied: invoice {call.invoice_id} shows transaction(s) "
                    f"{', '.join(wanted)} (a journal of this site is missing)")
        return None

    def _legacy_entries(self, calls: Sequence[PlannedCall]) -> dict[str, Entry]:
        """Entries that journals written before the site identity rule and the JSON business
        keys have for ``calls`` (by action and old business key), under today's keys. Their
        calls cannot be re-sent with the old key: unfinished ones take the past-the-window
        path (checked on the site, else needs review)."""
        wanted = {(c.action, c.legacy_business_key): c.key for c in calls}
        found = self.journal.legacy_lookup(self.target.site, wanted)
        return {wanted[pair]: entry for pair, entry in found.items()}

    def _without_earlier_rows(self, calls: list[PlannedCall]) -> list[PlannedCall]:
        """A grouped apply_payments call is keyed by all its rows, so a row added to the file
        changes the key. Rows that an earlier call with another key applied (or left unfinished)
        leave their group, which is rebuilt (and keyed) from the rest."""
        if not any(c.action == "apply_payments" for c in calls):
            return calls
        earlier = _entries_by_row(self.journal.by_business_key(self.target.site, "apply_payments"))
        kept = []
        for call in calls:
            rebuilt = self._regrouped(call, earlier) if call.action == "apply_payments" else call
            if rebuilt is not None:
                kept.append(rebuilt)
        return kept

    def _regrouped(
        self, call: PlannedCall, earlier: Mapping[str, list[Entry]]
    ) -> PlannedCall | None:
        # Posted rows first: the rebuilt call's key may be the one an unfinished call had.
        rebuilt = self._drop_rows(call, earlier, (POSTED,))
        if rebuilt is None:
            return None
        return self._drop_rows(rebuilt, earlier, (IN_FLIGHT, NEEDS_REVIEW))

    def _drop_rows(
        self, call: PlannedCall, earlier: Mapping[str, list[Entry]], states: tuple[str, ...]
    ) -> PlannedCall | None:
        """``call`` without the rows an earlier call with another key left in ``states`` (each
        recorded here), rebuilt from the rest; None when no row is left to send."""
        keep = []
        for row in call.rows:
            candidates = [*earlier.get(row.business_key, []), *earlier.get(row.legacy_key, [])]
            entry = next((e for e in candidates if e.key != call.key and e.state in states), None)
            if entry is None:
                keep.append(row)
            else:
                skipped = self._record_row(row, *_earlier_row_outcome(entry, call), key=entry.key)
                if entry.state == POSTED:
                    _fill_moved([skipped], entry)
        if len(keep) == len(call.rows):
            return call
        if not keep:
            return None
        rebuilt = regroup(keep, self.target.site, self.spec.api_version, self.spec)
        if rebuilt is None:
            for row in keep:
                self._record_row(row, Outcome.NEEDS_REVIEW, _REGROUP_FAILED, key=call.key)
        return rebuilt

    async def _check_site(
        self, calls: Sequence[PlannedCall], entries: Mapping[str, Entry]
    ) -> dict[str, Prediction]:
        """Read the site for ``calls``; settle earlier runs' unfinished calls from it (recorded
        here) and predict the others."""
        state = await read_state(self.client, calls, self.spec.api_version)
        note_customers(calls, state.invoices)
        self.state = state
        recovered, reviewed = await self._recover(calls, entries, state)
        for call in calls:
            if call.key in recovered and not self._posted_otherwise(call, entries[call.key]):
                self._record_posted(call, entries[call.key], recovered[call.key])
        return predict(
            [c for c in calls if c.key not in recovered and c.key not in reviewed], state
        )

    def _record_posted(self, call: PlannedCall, entry: Entry, evidence: str | None) -> None:
        rows = self._record(call, Outcome.SKIPPED, _posted_reason(entry, evidence),
                            transaction_id=entry.transaction_id)
        _fill_moved(rows, entry)
        if call.action == "charge" and entry.result_invoice_id:
            for row in rows:
                row.invoice_id = entry.result_invoice_id

    def _sort_by_journal(
        self, calls: Sequence[PlannedCall], entries: Mapping[str, Entry], legacy: set[str]
    ) -> tuple[list[tuple[PlannedCall, Entry]], list[PlannedCall], list[PlannedCall]]:
        now = self.options.clock()
        done, resend, check = [], [], []
        for call in calls:
            entry = entries.get(call.key)
            if entry is not None and entry.state == POSTED:
                done.append((call, entry))
            elif (entry is not None and entry.state == IN_FLIGHT and call.key not in legacy
                  and _inside_window(entry, now)):
                resend.append(call)
            else:
                check.append(call)
        return done, resend, check

    async def _recover(
        self, calls: Sequence[PlannedCall], entries: Mapping[str, Entry], state: SiteState
    ) -> tuple[dict[str, str], set[str]]:
        """Calls left in flight past the idempotency window, or settled as needs review by an
        earlier run: settle them from server state.

        Returns the keys found applied (key -> evidence) and the keys whose outcome cannot be
        known: those are recorded as needs review and never re-sent.
        """
        found: dict[str, str] = {}
        reviewed: set[str] = set()
        for call in calls:
            entry = entries.get(call.key)
            if entry is None or entry.state not in (IN_FLIGHT, NEEDS_REVIEW):
                continue
            evidence = await self._evidence(call, state)
            if evidence is True and entry.state == IN_FLIGHT:
                continue  # the server shows it was never applied: safe to plan normally
            if isinstance(evidence, str):
                found[call.key] = evidence
                if self.options.mode == "execute":
                    self.journal.settle(self.target.site, call.key, POSTED, message=evidence)
                continue
            reviewed.add(call.key)
            self._record(call, Outcome.NEEDS_REVIEW, _review_reason(entry))
        return found, reviewed

    async def _evidence(self, call: PlannedCall, state: SiteState) -> str | bool | None:
        """A description when applied; True when surely not applied; None when unknowable."""
        invoice = state.invoices.get(call.invoice_id or "")
        reference = call.params.get("reference_number")
        if call.action == "record_payment" and reference and self.spec.api_version == "v2":
            txns = await self.client.find_transactions(reference_number=str(reference))
            mine = [t for t in txns if pays_invoice(t, str(call.invoice_id), invoice)]
            return f"found transaction {mine[0].get('id')} with reference {reference}" if mine \
                else True
        if call.action == "close_invoice" and invoice is not None:
            return True if invoice.get("status") == "pending" else \
                f"invoice {call.invoice_id} is now {invoice.get('status')}"
        return None

    def _apply_predictions(
        self, calls: Sequence[PlannedCall], predictions: Mapping[str, Prediction]
    ) -> list[PlannedCall]:
        to_send = []
        for call in calls:
            prediction = predictions.get(call.key)
            if prediction is None:
                continue  # already recorded (journal, recovered or needs review)
            if prediction.outcome is Outcome.WOULD_POST:
                to_send.append(call)
                if self.options.mode == "execute":
                    continue
            outcome, reason = prediction.outcome, prediction.reason
            if outcome is Outcome.WOULD_FAIL:
                # batchpay's own foresight: Chargebee answered nothing, so no HTTP status or
                # Chargebee error code goes with it (issue 12 item 19)
                reason = f"{PREDICTED}: {reason}"
                if self.options.mode == "execute":
                    outcome = Outcome.FAILED  # checked before sending; nothing was sent
            rows = self._record(call, outcome, reason, transaction_id=prediction.transaction_id)
            _fill_amount(rows, prediction.amount, prediction.currency, "(from the invoice)",
                         prediction.row_amounts)
        return to_send

    def _confirm(
        self, to_send: Sequence[PlannedCall], predictions: Mapping[str, Prediction]
    ) -> None:
        totals: dict[str, int] = {}
        for call in to_send:
            predicted = predictions[call.key]
            # a call without an amount moves what its invoice says (collect or record in full)
            currency = call.currency or predicted.currency
            amount = call.amount if call.amount is not None else predicted.amount
            if predicted.row_amounts:  # a group: each row's own amount, or what it applies
                amount = sum(row.amount if row.amount is not None else applied
                             for row, applied in zip(call.rows, predicted.row_amounts, strict=True))
            if currency and amount is not None:
                totals[currency] = totals.get(currency, 0) + amount
        categories = [o.outcome.category for o in self.outcomes.values()]
        summary = PlanSummary(
            calls=len(to_send),
            rows=sum(len(c.rows) for c in to_send),
            totals=totals,
            skipped=categories.count("skipped"),
            failing=categories.count("failed") + categories.count("needs_review"),
            invalid=categories.count("invalid"),
            target=self.target.label,
        )
        if self.options.confirm is not None and not self.options.confirm(summary):
            raise RunRefused("execute cancelled; nothing was sent")

    async def _execute(
        self,
        calls: Sequence[PlannedCall],
        concurrency: int,
        predictions: Mapping[str, Prediction],
        deadlines: Mapping[str, float],
    ) -> None:
        stop = asyncio.Event()
        _stop_on_sigint(stop)
        watcher = asyncio.create_task(_stop_when_set(self.options.stop, stop))
        try:
            results = await self._send(calls, concurrency, deadlines, stop)
            late = [c for c in calls if results[c.key].state == WINDOW_EXPIRED]
            for call in calls:
                if results[call.key].state != WINDOW_EXPIRED:
                    self._record_result(call, results[call.key], predictions[call.key])
            if late:
                await self._after_window(late, concurrency, stop)
            self.journal.record_moved(self.target.site, self.moved)
        finally:
            _restore_sigint()
            watcher.cancel()
        if stop.is_set():
            self.notes.append("interrupted (Ctrl-C): rows not yet sent were left for the next run")

    async def _after_window(
        self, calls: Sequence[PlannedCall], concurrency: int, stop: asyncio.Event
    ) -> None:
        """Calls whose idempotency window closed before they could be re-sent (a slow
        confirmation, the rate limiter, back-off): the path of calls found past the window."""
        entries = self.journal.lookup(self.target.site, [c.key for c in calls])
        predictions = await self._check_site(calls, entries)
        to_send = self._apply_predictions(calls, predictions)
        results = await self._send(to_send, concurrency, {}, stop)
        for call in to_send:
            self._record_result(call, results[call.key], predictions[call.key])

    async def _send(
        self,
        calls: Sequence[PlannedCall],
        concurrency: int,
        deadlines: Mapping[str, float],
        stop: asyncio.Event,
    ) -> dict[str, CallResult]:
        executor = Executor(
            client=self.client, journal=self.journal, site=self.target.site, job=self.spec.name,
            policy=self.options.policy, concurrency=concurrency, limiter=self.limiter,
            headers=suppression_headers(self.spec.site.suppress_events), stop=stop,
            on_progress=self.options.on_progress, clock=self.options.clock, deadlines=deadlines,
            paid=_amounts_paid(self.state),
        )
        return await executor.run(calls)

    def _record_result(
        self, call: PlannedCall, result: CallResult, prediction: Prediction
    ) -> None:
        outcome = {
            POSTED: Outcome.POSTED, "failed": Outcome.FAILED, "needs_review": Outcome.NEEDS_REVIEW,
        }.get(result.state, Outcome.SKIPPED)
        reason = {
            Outcome.POSTED: prediction.reason,  # e.g. the overpayment the checks foresaw
            Outcome.SKIPPED: "not sent: the run was interrupted; run the job again to post it",
        }.get(outcome, result.message)
        rows = self._record(call, outcome, reason, http_status=result.http_status,
                            api_error_code=result.api_error_code,
                            transaction_id=result.transaction_id)
        for row in rows:
            row.attempts = result.attempts
            row.error_param = result.param
            row.invoice_status_after = result.invoice_status
            row.replayed = result.replayed
            if call.action == "charge" and result.result_invoice_id:
                row.invoice_id = result.result_invoice_id
        if outcome is Outcome.POSTED:
            _fill_posted(call, rows, result, prediction)
        else:
            _fill_amount(rows, None, prediction.currency, "")
        if outcome is Outcome.POSTED:
            self._note_moved(call, rows)

    def _note_moved(self, call: PlannedCall, rows: Sequence[RowOutcome]) -> None:
        """What each row of a posted call that names no amount moved, journalled after the
        run's calls (one write) for the re-runs that skip it."""
        currency = next((row.currency for row in rows if row.currency), None)
        amounts = {row.business_key: row.amount_minor
                   for planned, row in zip(call.rows, rows, strict=True)
                   if planned.amount is None and row.business_key and row.amount_minor is not None}
        if currency and amounts:
            self.moved.append((call.key, currency, amounts))

    def _record(
        self,
        call: PlannedCall,
        outcome: Outcome,
        reason: str,
        *,
        http_status: int | None = None,
        api_error_code: str | None = None,
        transaction_id: str | None = None,
    ) -> list[RowOutcome]:
        rows = []
        for planned in call.rows:
            row = self._record_row(planned, outcome, reason, key=call.key)
            row.http_status = http_status
            row.api_error_code = api_error_code
            row.transaction_id = transaction_id
            rows.append(row)
        return rows

    def _record_row(
        self, planned: PlannedRow, outcome: Outcome, reason: str, *, key: str
    ) -> RowOutcome:
        row = outcome_for(planned, outcome, reason)
        row.idempotency_key = key
        self.outcomes[planned.row.position] = row
        return row


_REGROUP_FAILED = (
    "rows of this invoice's group were applied by an earlier run and the rest cannot be sent "
    "on their own; check the invoice in Chargebee"
)


def _entries_by_row(calls: Sequence[tuple[str, Entry]]) -> dict[str, list[Entry]]:
    """Row business key -> the journal entries of the calls made with that row."""
    found: dict[str, list[Entry]] = {}
    for business_key, entry in calls:
        for row_key in row_business_keys(business_key):
            found.setdefault(row_key, []).append(entry)
    return found


def _fill_amount(
    rows: Sequence[RowOutcome], amount: int | None, currency: str | None, source: str,
    row_amounts: Sequence[int] = (),
) -> None:
    """A row that names no amount (collect or record in full, close, apply all) is counted
    with what its call moved, or would move, in that currency, and says where the amount came
    from; a row that names no currency takes the invoice's (issue 12 item 8). The rows of a
    grouped apply_payments call each take what they apply (``row_amounts``)."""
    if len(rows) != 1:
        for row, applied in zip(rows, row_amounts, strict=False):
            _fill_row(row, applied, currency, GROUP_SOURCE)
        return
    _fill_row(rows[0], amount, currency, source)


def _fill_row(row: RowOutcome, amount: int | None, currency: str | None, source: str) -> None:
    if row.currency is None and currency:
        row.currency = currency
    if row.amount_minor is None and amount is not None and currency and row.currency == currency:
        row.amount_minor = amount
        note = f"no amount in the row: {format_amount(amount, str(currency))} {currency} {source}"
        row.reason = f"{row.reason}; {note}" if row.reason else note


def _fill_posted(
    call: PlannedCall, rows: Sequence[RowOutcome], result: CallResult, prediction: Prediction
) -> None:
    """A posted row that names no amount takes what Chargebee's answer says the call moved.
    An apply_payments answer tells what its rows naming no amount applied together: the one
    such row of a grouped call takes it, several keep their predicted shares. Without an
    answer the prediction counts, and the row says so."""
    if result.amount is not None and (len(rows) == 1 or call.action != "apply_payments"):
        _fill_amount(rows, result.amount, result.currency, "(Chargebee's answer)")
        return
    unnamed = [row for row in rows if row.amount_minor is None]
    if result.amount is not None and len(unnamed) == 1:
        _fill_row(unnamed[0], result.amount, result.currency, "(Chargebee's answer)")
    source = "(from the invoice)"
    if call.action == "apply_payments" and result.amount is None:
        source = ("(predicted from the invoice before the call: Chargebee's answer did not "
                  "show what it applied)")
    _fill_amount(rows, prediction.amount, prediction.currency, source, prediction.row_amounts)


def _amounts_paid(state: SiteState | None) -> dict[str, int]:
    """Invoice id -> amount_paid as the checks read it, for what an apply_payments call moved."""
    invoices = state.invoices if state else {}
    return {str(k): v["amount_paid"] for k, v in invoices.items()
            if v and type(v.get("amount_paid")) is int}


def _fill_moved(rows: Sequence[RowOutcome], entry: Entry) -> None:
    """Rows skipped as posted by an earlier run that name no amount are counted with what
    that posting moved, as the journal recorded it, not with what the site shows now: the same
    file reads the same total on every run. When nothing recorded says (an unfinished call
    found applied, a journal written before it was kept) the row adds nothing and says so."""
    currency, amounts = _moved(entry)
    for row in rows:
        if row.amount_minor is not None:
            continue
        amount = amounts.get(row.business_key or "")
        if currency and amount is not None:
            _fill_row(row, amount, currency, "(as counted when it was posted; from the journal)")
            continue
        note = ("no amount in the row, and nothing recorded says what its posting moved: "
                "it adds nothing to the totals")
        row.reason = f"{row.reason}; {note}" if row.reason else note


def _moved(entry: Entry) -> tuple[str | None, dict[str, int]]:
    """(currency, row business key -> minor units) a posted entry moved; empty if unknown."""
    try:
        moved = json.loads(entry.moved or "")
        rows = moved["rows"]
        return str(moved["currency"]), {str(k): v for k, v in rows.items() if type(v) is int}
    except (ValueError, KeyError, TypeError, AttributeError):
        return None, {}


def _declined(call: PlannedCall, entry: Entry) -> bool:
    return call.action == "collect_payment" and entry.state == FAILED and (
        entry.api_error_code in DECLINES
    )


def _earlier_row_outcome(entry: Entry, call: PlannedCall) -> tuple[Outcome, str]:
    if entry.state == POSTED:
        when = _when(entry.settled_at)
        return Outcome.SKIPPED, f"already applied (journal: posted on {when} by an earlier run)"
    return Outcome.NEEDS_REVIEW, (
        f"an earlier run sent this row at {_when(entry.first_sent_at)} in a call with other rows "
        "and its outcome is unknown; batchpay will not send it again in another call: run the "
        f"earlier file again within 30 minutes, or check invoice {call.invoice_id} in Chargebee"
    )


def _when(timestamp: float | None) -> str:
    return datetime.fromtimestamp(timestamp or 0, UTC).strftime("%Y-%m-%d %H:%M UTC")


def _inside_window(entry: Entry, now: float) -> bool:
    return entry.first_sent_at is not None and now < _resend_deadline(entry)


def _resend_deadline(entry: Entry) -> float:
    """The last moment an unfinished call may be re-sent with its key and be replayed."""
    return (entry.first_sent_at or 0.0) + IDEMPOTENCY_WINDOW - RESEND_MARGIN


def _posted_reason(entry: Entry, evidence: str | None) -> str:
    if evidence:
        return f"already posted by an earlier run that did not finish ({evidence})"
    txn = f" (transaction {entry.transaction_id})" if entry.transaction_id else ""
    return f"already posted in an earlier run on {_when(entry.settled_at)}{txn}"


def _review_reason(entry: Entry) -> str:
    when = _when(entry.first_sent_at)
    if entry.state == NEEDS_REVIEW:
        return f"reported needs review by an earlier run (sent {when}): {entry.message}"
    return (
        f"an earlier run sent this call at {when} and its outcome is unknown; Chargebee's "
        "30-minute idempotency window has passed and the site cannot show whether it was "
        "applied, so batchpay will not re-send it: check the invoice in Chargebee"
    )


def _stop_on_sigint(stop: asyncio.Event) -> None:
    # Outside the main thread this fails and Ctrl-C handling stays with the caller.
    with suppress(NotImplementedError, RuntimeError, ValueError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGINT, stop.set)


async def _stop_when_set(request: threading.Event | None, stop: asyncio.Event) -> None:
    """Relay a stop asked from another thread (the web's Stop button) to the executor."""
    while request is not None and not request.is_set():
        await asyncio.sleep(0.1)
    if request is not None:
        stop.set()


def _restore_sigint() -> None:
    with suppress(NotImplementedError, RuntimeError, ValueError):
        asyncio.get_running_loop().remove_signal_handler(signal.SIGINT)


def _info(
    spec: JobSpec,
    input_path: Path,
    prepared: PreparedInput,
    options: RunOptions,
    target: Target | None,
    started: datetime,
    notes: list[str],
) -> RunInfo:
    return RunInfo(
        job_name=spec.name,
        input_name=input_path.name,
        input_sha256=prepared.sha256,
        mode="dry-run" if options.mode == "dry-run" else options.mode,
        target=target.label if target else "none (offline)",
        api_version=spec.api_version,
        batchpay_version=__version__,
        started_at=started,
        finished_at=datetime.now(UTC),
        operator=_operator(options.env),
        input_columns=prepared.table.columns,
        key_columns=tuple(c for c in used_columns(spec) if c in prepared.table.columns),
        rows_read=prepared.rows_read,
        notes=tuple(notes),
        interrupted=any(note.startswith("interrupted") for note in notes),
    )


def _operator(env: Mapping[str, str]) -> str:
    for name in ("BATCHPAY_OPERATOR", "USER", "USERNAME", "LOGNAME"):
        if env.get(name):
            return env[name]
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"
