r"""The regular expressions a job spec gives (fields.regex, filters/routes matches,
drop_rows_matching), run by RE2: time linear in the text, whatever the pattern.

Python's ``re`` backtracks: ``^(\w+)*$`` on a 40-character cell runs for minutes. RE2 never does,
at the price of the features that need backtracking (backreferences, lookaround), which are
refused when the spec is loaded. RE2's ``\d``, ``\w``, ``\s`` and ``\b`` are ASCII; ``\pN`` and
``\pL`` cover other scripts.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, TypeAlias

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would print every refused pattern to stderr

_HINTS = (
    ("(?=", "lookahead (?=...)"),
    ("(?!", "negative lookahead (?!...)"),
    ("(?<=", "lookbehind (?<=...)"),
    ("(?<!", "negative lookbehind (?<!...)"),
    ("(?P=", "a backreference (?P=name)"),
    ("\\Z", "\\Z (write \\z)"),
)

Pattern: TypeAlias = Any  # re2's compiled pattern; the binding has no type hints


class PatternError(ValueError):
    """A pattern RE2 cannot run; the message says why."""


@lru_cache(maxsize=64)
def compile_pattern(pattern: str) -> Pattern:
    """``pattern`` compiled by RE2, or PatternError naming what RE2 does not support."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0].decode("utf-8", "replace") if exc.args else str(exc)
        raise PatternError(f"regex does not compile: {reason}{_hint(pattern)}") from None


def _hint(pattern: str) -> str:
    used = [name for marker, name in _HINTS if marker in pattern]
    if any(f"\\{digit}" in pattern for digit in "123456789"):
        used.append("a backreference \\1")
    if not used:
        return ""
    return (f" ({', '.join(used)} is not supported: batchpay runs regexes with RE2, which takes "
            "time linear in the text and so cannot look around or refer back)")


def capture(pattern: Pattern, texts: list[str]) -> tuple[list[str], set[int]]:
    """What ``pattern`` keeps of each text (the group 'value', else group 1, else the whole match)
    and the positions where it found no match (their value is "")."""
    group: int | str = "value" if "value" in pattern.groupindex else min(pattern.groups, 1)
    values: list[str] = []
    unmatched: set[int] = set()
    for position, text in enumerate(texts):
        found = pattern.search(subject(text))
        if found is None:
            unmatched.add(position)
            values.append("")
            continue
        kept = found.group(group)
        values.append((kept.decode("ascii") if isinstance(kept, bytes) else kept or "").strip())
    return values, unmatched


def searches(pattern: Pattern, text: str) -> bool:
    return pattern.search(subject(text)) is not None


def subject(text: str) -> str | bytes:
    """What to give RE2 to search ``text``: RE2 reads UTF-8, and the binding maps offsets
    between characters and bytes for a str; an ASCII text given as its bytes is the same
    input without that mapping (offsets of ASCII characters and bytes are the same), about
    half the time per search."""
    return text.encode("ascii") if text.isascii() else text
