"""Business keys, idempotency keys and request bodies pinned for a few rows: a journal written
by an earlier release only matches if the same input gives byte-identical keys, so any change to
how fields are parsed, normalised or encoded must leave these strings as they are."""

from __future__ import annotations

from pathlib import Path

from batchpay.plan import plan
from batchpay.prepare import prepare
from batchpay.run import RunOptions, run_job
from batchpay.spec import load_spec

DEPOSITS_JOB = """\
name: pinned-keys
api_version: v2
input:
  format: csv
fields:
  invoice_id:
    column: Description
    regex: '(INV-\\d+)'
  amount:
    type: money
    credit_column: Paid In
    debit_column: Paid Out
    decimal: "."
    thousands: ","
    currency_field: currency
  currency:
    column: Currency
  date:
    type: date
    column: Date
    formats: ["%d/%m/%Y"]
    timezone: Europe/London
    time_of_day: "12:00"
  reference:
    column: Reference ID
    required: false
  comment:
    template: "Bank transfer {Reference ID}"
filters:
  - field: amount
    le: 0
    reason: outgoing payment, not a deposit
action:
  type: record_payment
  params:
    invoice_id: invoice_id
    amount: amount
    payment_method: {const: bank_transfer}
    reference_number: reference
    date: date
    comment: comment
site:
  name: acme-test
"""

DEPOSITS = (
    "Date,Reference ID,Description,Paid In,Paid Out,Currency\n"
    '03/11/2026,NW-1,"ACME INV-1001 THANKS","1,200.00",,USD\n'
    '04/11/2026, NW-2\u200b ,"INV-1002",200.5,,eur\n'
    '05/11/2026,\uff2e\uff37\uff0d\uff13,"PAY INV-1003",7,,JPY\n'
    '06/11/2026,,"INV-1004 no ref",0.125,,KWD\n'
    '07/11/2026,NW-5,"out INV-1005",,50.00,USD\n'
)

ALLOCATION_JOB = """\
name: pinned-allocation
api_version: v2
input:
  format: csv
fields:
  invoice_id:
    column: Invoice
  transaction_id:
    column: Payment Txn
    required: false
  amount:
    type: money
    column: Apply Amount
    currency: USD
    required: false
  comment:
    column: Note
    required: false
action:
  type: apply_payments
  params:
    invoice_id: invoice_id
    transaction_id: transaction_id
    amount: amount
    comment: comment
site:
  name: acme-test
"""

ALLOCATION = (
    "Invoice,Payment Txn,Apply Amount,Note\n"
    "INV-1014,txn_2,100.00,second\n"
    "INV-1014,txn_1,300.00,first\n"
    "INV-1015,,,all that is left\n"
)


def _write(tmp: Path, job: str, data: str) -> tuple[Path, Path]:
    (tmp / "job.yaml").write_text(job, encoding="utf-8")
    (tmp / "data.csv").write_text(data, encoding="utf-8")
    return tmp / "job.yaml", tmp / "data.csv"


def _dry_run(job: Path, data: Path, tmp: Path) -> list[tuple[int, str, str | None, str | None]]:
    result = run_job(job, data, RunOptions(mode="dry-run", offline=True,
                                           journal_path=tmp / "journal.sqlite"))
    return [(o.origin.row, o.outcome.value, o.business_key, o.idempotency_key)
            for o in result.outcomes]


def _requests(job: Path, data: Path) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
    spec = load_spec(job)
    planned = plan(prepare(spec, data, spec_dir=job.parent), "acme-test.chargebee.com",
                   spec.api_version)
    return [(call.key, call.request.path, call.request.form) for call in planned.calls]


def test_deposit_keys_and_requests_are_those_of_earlier_releases(tmp_path: Path) -> None:
    job, data = _write(tmp_path, DEPOSITS_JOB, DEPOSITS)
    assert _dry_run(job, data, tmp_path) == PINNED_DEPOSIT_OUTCOMES
    assert _requests(job, data) == PINNED_DEPOSIT_REQUESTS


def test_grouped_keys_and_requests_are_those_of_earlier_releases(tmp_path: Path) -> None:
    job, data = _write(tmp_path, ALLOCATION_JOB, ALLOCATION)
    assert _dry_run(job, data, tmp_path) == PINNED_ALLOCATION_OUTCOMES
    assert _requests(job, data) == PINNED_ALLOCATION_REQUESTS


PINNED_DEPOSIT_OUTCOMES: list[tuple[int, str, str | None, str | None]] = [
    (2, 'would post',
     '{"amount":"120000","date":"1793707200","invoice_id":"INV-1001","payment_method":"bank_t'
     'ransfer","reference_number":"NW-1"}',
     'bp1-b881c67b4bb22258086e3d06e78d9b9675ba53eb'),
    (3, 'would post',
     '{"amount":"20050","date":"1793793600","invoice_id":"INV-1002","payment_method":"bank_tr'
     'ansfer","reference_number":"NW-2"}',
     'bp1-261f2107c01c26c0fd72c2e44243f85a95d4b1ca'),
    (4, 'would post',
     '{"amount":"7","date":"1793880000","invoice_id":"INV-1003","payment_method":"bank_transf'
     'er","reference_number":"NW-3"}',
     'bp1-dfa2ccfc1724a6688b0768a842352249dd18a5cc'),
    (5, 'would post',
     '{"amount":"125","date":"1793966400","invoice_id":"INV-1004","payment_method":"bank_tran'
     'sfer","reference_number":""}',
     'bp1-710f07d4cf67b0028c099a6c60e2aa1c81337eb2'),
    (6, 'skipped',
     '{"amount":"-5000","date":"1794052800","invoice_id":"INV-1005","payment_method":"bank_tr'
     'ansfer","reference_number":"NW-5"}',
     None),
]
PINNED_DEPOSIT_REQUESTS: list[tuple[str, str, tuple[tuple[str, str], ...]]] = [
    ('bp1-b881c67b4bb22258086e3d06e78d9b9675ba53eb', '/invoices/INV-1001/record_payment', (
        ('transaction[amount]', '120000'),
        ('transaction[payment_method]', 'bank_transfer'),
        ('transaction[reference_number]', 'NW-1'),
        ('transaction[date]', '1793707200'),
        ('comment', 'Bank transfer NW-1'),
    )),
    ('bp1-261f2107c01c26c0fd72c2e44243f85a95d4b1ca', '/invoices/INV-1002/record_payment', (
        ('transaction[amount]', '20050'),
        ('transaction[payment_method]', 'bank_transfer'),
        ('transaction[reference_number]', 'NW-2\u200b'),
        ('transaction[date]', '1793793600'),
        ('comment', 'Bank transfer NW-2\u200b'),
    )),
    ('bp1-dfa2ccfc1724a6688b0768a842352249dd18a5cc', '/invoices/INV-1003/record_payment', (
        ('transaction[amount]', '7'),
        ('transaction[payment_method]', 'bank_transfer'),
        ('transaction[reference_number]', 'ＮＷ－３'),
        ('transaction[date]', '1793880000'),
        ('comment', 'Bank transfer ＮＷ－３'),
    )),
    ('bp1-710f07d4cf67b0028c099a6c60e2aa1c81337eb2', '/invoices/INV-1004/record_payment', (
        ('transaction[amount]', '125'),
        ('transaction[payment_method]', 'bank_transfer'),
        ('transaction[date]', '1793966400'),
        ('comment', 'Bank transfer '),
    )),
]
PINNED_ALLOCATION_OUTCOMES: list[tuple[int, str, str | None, str | None]] = [
    (2, 'would post',
     '{"amount":"10000","invoice_id":"INV-1014","transaction_id":"txn_2"}',
     'bp1-c7fc792aa68630b2d4137c157b9a7f6e07b78419'),
    (3, 'would post',
     '{"amount":"30000","invoice_id":"INV-1014","transaction_id":"txn_1"}',
     'bp1-c7fc792aa68630b2d4137c157b9a7f6e07b78419'),
    (4, 'would post',
     '{"amount":"","invoice_id":"INV-1015","transaction_id":""}',
     'bp1-75233aaece47364015078935807447b1ce19253a'),
]
PINNED_ALLOCATION_REQUESTS: list[tuple[str, str, tuple[tuple[str, str], ...]]] = [
    ('bp1-c7fc792aa68630b2d4137c157b9a7f6e07b78419', '/invoices/INV-1014/apply_payments', (
        ('transactions[id][0]', 'txn_2'),
        ('transactions[id][1]', 'txn_1'),
        ('transactions[amount][0]', '10000'),
        ('transactions[amount][1]', '30000'),
        ('comment', 'second'),
    )),
    ('bp1-75233aaece47364015078935807447b1ce19253a', '/invoices/INV-1015/apply_payments', (
        ('comment', 'all that is left'),
    )),
]
