"""Hypothesis runs the same examples on every machine and every run: no example database (a saved
failure must not make one clone fail where another passes) and no deadline (two shared cores make
timings meaningless). ``HYPOTHESIS_PROFILE=explore`` searches at random, for local bug hunting."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("deterministic", derandomize=True, database=None, deadline=None)
settings.register_profile("explore", database=None, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))
