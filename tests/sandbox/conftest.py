from __future__ import annotations

import pytest
from sbx_helpers import Sandbox


@pytest.fixture
def sandbox() -> Sandbox:
    return Sandbox()
