"""Clearings of problems already cleared, by content: `clear(problem, memo=...)`.

`clear` is a pure function of the problem's data: its canonical writing
(`matching.labelling`) and everything cleared from it depend on the interval's length, the
network (every id, limit, price and reactance) and the orders' nodes, sides, quantities and
limit prices — not on the interval's start nor on the orders' ids, which only order the
trades among identical orders (`clearing._restore`, done again for each problem). A
simulation clears many such repeats: the demo's profiles are hourly, so a night hour's four
quarters (and the same hour of the next days) often carry the same book; a year at 75
points clears each distinct problem about twice.

The key holds the data bit for bit (`repr` of the network, the raw bytes of the order
arrays), so a hit is the same problem and gets the same result, to the last bit. Problems
with a time limit are never memoised (their outcome depends on the clock), nor large ones
(`max_orders`: they do not repeat, and their results are big). The memo forgets its oldest
entries beyond `max_entries`. Not thread-safe: one per process or task (the simulation
makes one per run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matching.labelling import Labelling
    from matching.problem import ClearingProblem
    from matching.result import ClearingResult
    from matching.trades import Placement

    Entry = tuple[Labelling, ClearingResult, Placement | None]

Key = tuple[object, ...]


@dataclass(eq=False)
class Memo:
    """Canonical writings and their (inner) results, by problem content."""

    max_entries: int = 4096
    max_orders: int = 2000
    hits: int = 0
    misses: int = 0
    _entries: dict[Key, Entry] = field(default_factory=dict, repr=False)

    def key(self, problem: ClearingProblem) -> Key | None:
        """The problem's content (None: not memoised)."""
        book = problem.orders
        if problem.time_limit_s is not None or len(book) > self.max_orders:
            return None
        return (
            problem.interval.minutes,
            repr(problem.network),
            len(book),
            book.node.dtype.str,
            book.node.tobytes(),
            book.is_buy.tobytes(),
            book.quantity_kwh.tobytes(),
            book.price.tobytes(),
        )

    def get(self, key: Key) -> Entry | None:
        entry = self._entries.get(key)
        if entry is None:
            self.misses += 1
        else:
            self.hits += 1
        return entry

    def put(self, key: Key, entry: Entry) -> None:
        if len(self._entries) >= self.max_entries:
            del self._entries[next(iter(self._entries))]  # the oldest
        self._entries[key] = entry

    def __len__(self) -> int:
        return len(self._entries)


__all__ = ["Memo"]
