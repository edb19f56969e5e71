"""Numbers of a saved audit as text: ``54.6%``, ``-33.6 pts``, ``0.377 [0.279, 0.458]``, ``p_adj = 0.012``.

Pure formatting, no statistic: every value is read as it is saved, and a missing, null, NaN or non-numeric value
prints as ``—`` (or as nothing, for an interval or a p-value).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from reports.labels import metric_kind


def as_float(value: Any) -> float | None:
    """A finite float, or ``None`` for missing, null, NaN, infinite or non-numeric values."""
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def as_int(value: Any) -> int | None:
    number = as_float(value)
    return int(number) if number is not None else None


def fmt_number(value: Any, kind: str = "number", digits: int | None = None, signed: bool = False) -> str:
    """One number: rates as ``54.6%``, rate gaps as ``-33.6 pts``, other numbers with 3 decimals; ``—`` if missing."""
    number = as_float(value)
    if number is None:
        return "—"
    sign = "+" if signed else ""
    if kind == "rate":
        return f"{number * 100:.{1 if digits is None else digits}f}%"
    if kind == "rate_gap":
        return f"{number * 100:{sign}.{1 if digits is None else digits}f} pts"
    return f"{number:{sign}.{3 if digits is None else digits}f}"


def fmt_interval(low: Any, high: Any, kind: str = "number", digits: int | None = None) -> str:
    """``[50.1, 59.0]`` in the same unit as the estimate (percent / points without the sign); empty if missing."""
    lo, hi = as_float(low), as_float(high)
    if lo is None or hi is None:
        return ""
    scale = 100.0 if kind in ("rate", "rate_gap") else 1.0
    places = (1 if kind in ("rate", "rate_gap") else 3) if digits is None else digits
    return f"[{lo * scale:.{places}f}, {hi * scale:.{places}f}]"


def fmt_estimate(row: Mapping[str, Any] | None, kind: str | None = None, signed: bool | None = None) -> str:
    """``value [ci_low, ci_high]`` for one metric row; ``—`` when the row or its value is missing."""
    if not row:
        return "—"
    metric = str(row.get("metric", ""))
    kind = kind or metric_kind(metric)
    if signed is None:
        signed = metric.endswith("_gap")
    text = fmt_number(row.get("value"), kind, signed=signed)
    if text == "—":
        return text
    interval = fmt_interval(row.get("ci_low"), row.get("ci_high"), kind)
    return f"{text} {interval}" if interval else text


def _ceil_significant(number: float, digits: int = 2) -> str:
    """``number`` rounded up to ``digits`` significant digits, without trailing zeros (``0.0034983`` -> ``0.0035``)."""
    exponent = math.floor(math.log10(number)) - (digits - 1)
    step = 10.0**exponent
    rounded = math.ceil(number / step - 1e-9) * step
    return f"{rounded:.{max(0, -exponent)}f}".rstrip("0").rstrip(".") if exponent < 0 else f"{rounded:.0f}"


def fmt_p(value: Any, bound: bool = False) -> str:
    """A p-value as text, the one rule every report uses: ``0.012`` (3 decimals), ``3.1e-06`` below 0.001 (two
    significant digits: an exact test's small p-value), and, for a ``bound`` (a resampling p-value at its floor
    ``1 / (B + 1)``, or an adjusted one that depends on such a floor), ``< 0.0005``: the bound rounded up to two
    significant digits, never printed as if it were an estimate.  Empty when missing.

    >>> fmt_p(0.01234), fmt_p(3.14e-6), fmt_p(1 / 2001, bound=True), fmt_p(7 / 2001, bound=True)
    ('0.012', '3.1e-06', '< 0.0005', '< 0.0035')
    """
    number = as_float(value)
    if number is None:
        return ""
    if bound and number > 0:
        return f"< {_ceil_significant(number)}"
    if 0 < number < 0.001:
        return f"{number:.1e}"
    return f"{number:.3f}"


def p_text(row: Mapping[str, Any] | None) -> str:
    """``p_adj = 0.012`` (adjusted when present, else raw ``p = …``), ``p_adj < 0.0035`` for a bound (the row's
    ``p_adjusted_at_floor`` / ``p_at_floor``); empty when neither is present."""
    if not row:
        return ""
    adjusted = fmt_p(
        row.get("p_adjusted"), row.get("p_adjusted_at_floor") is True
    )  # missing / null: no bound
    raw = fmt_p(row.get("p_value"), row.get("p_at_floor") is True)
    for name, text in (("p_adj", adjusted), ("p", raw)):
        if text:
            return f"{name} {'' if text.startswith('<') else '= '}{text}"
    return ""


def interval_excludes_zero(row: Mapping[str, Any] | None) -> bool | None:
    """True when the interval lies on one side of zero, False when it straddles it, None when it is missing."""
    if not row:
        return None
    lo, hi = as_float(row.get("ci_low")), as_float(row.get("ci_high"))
    if lo is None or hi is None:
        return None
    return lo > 0 or hi < 0


_NAME_BREAKS = "|=@:/_-. "


def abbreviate_middle(name: str, limit: int) -> str:
    """``name`` shortened to at most ``limit`` characters by cutting its middle (``gpt-4o…outputs@start``): the
    start says which model, the end which variant, so names that differ only at the end stay apart.  The cut
    falls at a separator (``| = @ : / _ - .`` or a space) when that loses at most 5 characters and keeps 60% of the
    end's room.

    >>> abbreviate_middle("gpt-4o|profile_view=outputs@start", 20)
    'gpt-4o…outputs@start'
    >>> abbreviate_middle("gpt-4o", 20)
    'gpt-4o'
    """
    if len(name) <= limit:
        return name
    if limit < 5:
        return name[: max(limit - 1, 0)] + "…"
    head_size = max(limit // 3, 2)
    head = name[:head_size]
    tail = name[-(limit - head_size - 1) :]
    cut = next((i for i in range(len(tail) - 1) if tail[i] in _NAME_BREAKS), None)
    if cut is not None and cut <= 5 and len(tail) - cut - 1 >= 0.6 * len(tail):
        tail = tail[cut + 1 :]
        room = limit - len(tail) - 1  # the characters the trimmed tail gave back go to the head
        head = name[:room]
        stop = max((i for i in range(len(head)) if head[i] in _NAME_BREAKS), default=None)
        if stop is not None and room - stop <= 5 and stop >= 2:
            head = head[:stop]
    return f"{head}…{tail}"


def short_names(names: list[str], limit: int) -> dict[str, str]:
    """Each name's :func:`abbreviate_middle` form, distinct from every other short and full name (a clash keeps
    more of the end, then gets a number)."""
    out: dict[str, str] = {}
    taken: set[str] = set(n for n in names if len(n) <= limit)
    for name in dict.fromkeys(names):
        short = abbreviate_middle(name, limit)
        k = 1
        while short != name and short in taken:
            k += 1
            suffix = f"~{k}"
            short = abbreviate_middle(name, limit - len(suffix)) + suffix
        taken.add(short)
        out[name] = short
    return out
