"""The batchpay web application: ``create_app(Settings(...))``; served by ``batchpay web``."""

from batchpay.web.app import create_app
from batchpay.web.runs import Settings

__all__ = ["Settings", "create_app"]
