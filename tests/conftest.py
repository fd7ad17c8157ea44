"""Hypothesis runs the same examples on every machine and every run: no example database (a saved
failure must not make one clone fail where another passes) and no deadline (two shared cores make
timings meaningless). ``HYPOTHESIS_PROFILE=explore`` searches at random, for local bug hunting.

Every test keeps batchpay's per-user state (execute locks, the register of journals per site) in
its own folder: runs must not see another test's, or another engineer's, state."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("deterministic", derandomize=True, database=None, deadline=None)
settings.register_profile("explore", database=None, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


@pytest.fixture(autouse=True)
def _private_state_dir(tmp_path_factory: pytest.TempPathFactory,
                       monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path_factory.mktemp("batchpay-state")
    monkeypatch.setenv("BATCHPAY_STATE_DIR", str(state))
    return state
