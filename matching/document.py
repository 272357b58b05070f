"""`clear_document(doc) -> dict`: either JSON form in, its result's JSON form out.

A document with `intervals` (plural) is the several-interval form (`matching.multi`); with
`interval` (singular) it is the one-interval form, cleared and written exactly as before.
"""

from __future__ import annotations

import gc
from typing import Any

Json = dict[str, Any]


def is_several(doc: Any) -> bool:
    """True for the several-interval form (a top-level `intervals` field)."""
    return isinstance(doc, dict) and "intervals" in doc


def clear_document(doc: Any, *, time_limit_s: float | None = None, timings: bool = True) -> Json:
    """Clear a problem given as the JSON-shaped dict; returns the result as the dict
    `klaster clear` prints. Raises `matching.ProblemError` naming the field on bad input."""
    if is_several(doc):
        from matching import multi

        # The cyclic collector would walk the day-ahead's ~100k result dicts and lists
        # (and the parsed input) several times and find nothing: they hold no cycles. Off
        # while clearing (≈ 0.03 s of 0.85 s CPU on 96 intervals × 10,000 orders); anything
        # cyclic left behind is collected once it is back on.
        was_on = gc.isenabled()
        gc.disable()
        try:
            problem = multi.parse(doc)
            if time_limit_s is not None:
                object.__setattr__(problem, "time_limit_s", time_limit_s)
            return multi.to_dict(problem, multi.clear(problem), timings=timings)
        finally:
            if was_on:
                gc.enable()
    from matching.clearing import clear
    from matching.jsonio import problem_from_dict, result_to_dict

    single = problem_from_dict(doc)
    if time_limit_s is not None:
        object.__setattr__(single, "time_limit_s", time_limit_s)
    return result_to_dict(single, clear(single), timings=timings, source=doc)


__all__ = ["clear_document", "is_several"]
