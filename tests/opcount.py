"""Work counted in operations, not seconds: the Python lines a call executes (``sys.settrace`` line events in it
and in everything it calls), the same on any machine however slow."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any


def lines_executed(call: Callable[[], Any], expected: type[BaseException] = Exception) -> tuple[int, Any]:
    """``(lines executed by call(), its result)``; an ``expected`` exception it raises is the result instead."""
    count = 0

    def tracer(frame, event, arg):
        nonlocal count
        if event == "line":
            count += 1
        return tracer

    sys.settrace(tracer)
    try:
        outcome = call()
    except expected as exc:
        outcome = exc
    finally:
        sys.settrace(None)
    return count, outcome
