"""Regexes run by RE2: an ASCII text is searched as its bytes (faster); what is found must be
exactly what a search of the text itself finds, for any pattern and any text."""

from __future__ import annotations

import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from batchpay.patterns import capture, compile_pattern, searches

PATTERNS = [r"(INV-\d+)", r"(?P<value>[A-Z]{2,}\s*\d*)", r"^\s*(\w+)?$", r"\b(\d{3})\b", r"x*",
            r"(é|e)(\pL+)", r"[^\x00-\x1f]+", r"(a)|(b)", r"(?i)inv[- ]?(\d+)"]
TEXTS = st.lists(st.text(alphabet="INV-0123 abxé\t\x01Zz_AB", max_size=24), max_size=12)


def _plain_capture(pattern: str, texts: list[str]) -> tuple[list[str], set[int]]:
    """What capture did before ASCII texts were searched as bytes: the binding's str search."""
    compiled = re2.compile(pattern)
    group: int | str = "value" if "value" in compiled.groupindex else min(compiled.groups, 1)
    found = [compiled.search(text) for text in texts]
    return ([(m.group(group) or "").strip() if m else "" for m in found],
            {i for i, m in enumerate(found) if m is None})


@settings(max_examples=400, deadline=None)
@given(pattern=st.sampled_from(PATTERNS), texts=TEXTS)
def test_capture_finds_what_a_search_of_the_text_finds(pattern: str, texts: list[str]) -> None:
    assert capture(compile_pattern(pattern), texts) == _plain_capture(pattern, texts)
    compiled = re2.compile(pattern)
    assert [searches(compile_pattern(pattern), t) for t in texts] == [
        compiled.search(t) is not None for t in texts]
