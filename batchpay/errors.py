"""Every error batchpay raises on purpose.

    BatchpayError
    ├── SpecError            a job spec that cannot be loaded (names file and key path)
    ├── InputError           an input file that cannot be read (names file and place)
    ├── PlanError            valid rows that cannot be turned into calls (e.g. v1 + apply_payments)
    ├── RunRefused           execute refused before any call: invalid rows, live site, no TTY, lock
    ├── JournalError         a journal or batchpay's state folder that cannot be opened or written
    └── ChargebeeError       see batchpay.chargebee.errors (transport and API errors)

Only the CLI turns these into ``Error: ...`` and exit codes; the library never exits.
"""

from __future__ import annotations


class BatchpayError(Exception):
    """Root of every error batchpay raises on purpose."""


class SpecError(BatchpayError):
    """A job spec that is missing, not YAML, or does not fit the model."""


class InputError(BatchpayError):
    """An input file that cannot be read at all (as opposed to rows that fail validation)."""


class PlanError(BatchpayError):
    """Rows that validated but cannot be planned as the job asks."""


class RunRefused(BatchpayError):
    """Execute refused before any call was made."""


class JournalError(BatchpayError):
    """A journal (or batchpay's per-site state) that is damaged, not a journal, or unwritable."""
