"""Always-human rule patterns: RE2 regular expressions, whose search time is linear in the text.

Python's `re` backtracks: a pattern such as `(a+)+$` takes time exponential in the text's length,
and one owner's rule would stall every request that decides an item. RE2 never backtracks, so a
search costs at most (pattern size × text length); RE2 refuses the constructs that need
backtracking (backreferences, lookaround) and patterns whose program would exceed its memory
bound. The same compiler validates a rule when it is stored and when it is applied.
"""

from __future__ import annotations

from typing import Any

import re2

__all__ = ["MAX_PATTERN_CHARS", "MAX_RULES", "compile_pattern"]

MAX_PATTERN_CHARS = 1000
MAX_RULES = 100

_OPTIONS = re2.Options()
_OPTIONS.case_sensitive = False  # rules are searched case-insensitively, as documented
_OPTIONS.never_capture = True  # only "does it match" is asked: no group bookkeeping
_OPTIONS.log_errors = False  # a refused pattern is the caller's 422, not a line on stderr


def compile_pattern(pattern: str) -> Any:
    """The compiled RE2 program of `pattern` (searched case-insensitively); ValueError, with
    RE2's reason, when the pattern is too long or not valid RE2 syntax."""
    if len(pattern) > MAX_PATTERN_CHARS:
        raise ValueError(f"a pattern has at most {MAX_PATTERN_CHARS} characters")
    try:
        return re2.compile(pattern, _OPTIONS)
    except (re2.error, UnicodeError) as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise ValueError(
            f"not a valid RE2 regular expression ({reason}); backreferences and lookaround "
            "are not supported"
        ) from None
