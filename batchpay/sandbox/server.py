"""Build a sandbox from files and serve it with uvicorn: the library behind ``sandbox serve``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import uvicorn
import yaml
from starlette.applications import Starlette

from batchpay.sandbox.app import create_app
from batchpay.sandbox.faults import FaultConfig, FaultConfigError
from batchpay.sandbox.seed import load_seed_file
from batchpay.sandbox.store import SandboxStore

DEFAULT_STATE = Path(".batchpay") / "sandbox.sqlite"


def load_fault_file(path: str | Path) -> dict[str, Any]:
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise FaultConfigError(f"{path}: a fault config must be a mapping")
    return data


def build_app(
    state: str | Path,
    seed: str | Path | None,
    faults: FaultConfig,
    api_keys: set[str],
    control: bool = True,
) -> Starlette:
    store = SandboxStore(state)
    if seed is not None:
        store.load_seed(load_seed_file(seed))
    return create_app(store, faults=faults, api_keys=api_keys, control=control)


def run(app: Starlette, host: str, port: int) -> None:
    """Serve until SIGINT/SIGTERM (uvicorn handles both and shuts down cleanly)."""
    uvicorn.run(app, host=host, port=port, http="h11", log_level="warning", lifespan="off")
