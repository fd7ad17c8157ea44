"""A local, faithful fake of Chargebee's invoice API, for runs and tests without an account.

create_app(store, faults=..., api_keys=..., clock=...)   the ASGI app (Starlette)
sandbox_transport(app)                                    in-process httpx transport
SandboxStore(path)                                        SQLite state, seeds, ledger
SandboxStateError                                         a state file that cannot be used
FaultConfig                                               limits and injected faults
sandbox_cli                                               ``sandbox serve``
"""

from batchpay.sandbox.app import DEFAULT_API_KEY, create_app
from batchpay.sandbox.cli import sandbox_cli
from batchpay.sandbox.errors import ConnectionDropped, SandboxApiError
from batchpay.sandbox.faults import FaultConfig, FaultConfigError
from batchpay.sandbox.seed import SeedError, load_seed_file, synthetic_seed
from batchpay.sandbox.store import SandboxStateError, SandboxStore
from batchpay.sandbox.transport import sandbox_transport

__all__ = [
    "DEFAULT_API_KEY",
    "ConnectionDropped",
    "FaultConfig",
    "FaultConfigError",
    "SandboxApiError",
    "SandboxStateError",
    "SandboxStore",
    "SeedError",
    "create_app",
    "load_seed_file",
    "sandbox_cli",
    "sandbox_transport",
    "synthetic_seed",
]
