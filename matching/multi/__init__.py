"""Several intervals at once (issue 12): storage, block orders, line fees, prices per
interval. `parse(doc)` → `clear(problem)` → `to_dict(problem, result)`; market code uses
`matching.clear_document` only (see docs/clearing.md, "Several intervals")."""

from __future__ import annotations

from matching.multi.clearing import MultiResult, clear
from matching.multi.jsonio import output_seconds, to_dict
from matching.multi.problem import MultiProblem, parse

__all__ = ["MultiProblem", "MultiResult", "clear", "output_seconds", "parse", "to_dict"]
