"""batchpay: turn payment spreadsheets into Chargebee API calls, safely."""

__version__ = "0.1.0"
