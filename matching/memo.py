"""Clearings of problems already cleared, by content: `clear(problem, memo=...)`.

`clear` is a pure function of the problem's data: its canonical writing
(`matching.labelling`) and everything cleared from it depend on the interval's length, the
network (every id, limit, price and reactance) and the orders' nodes, sides, quantities and
limit prices — not on the interval's start nor on the orders' ids, which only order the
trades among identical orders (`clearing._restore`, done again for each problem). A
simulation clears many such repeats: the demo's profiles are hourly, so a night hour's four
quarters (and the same hour of the next days) often carry the same book: over four days
of the 75-point demo, 215 of 384 intervals in January and 128 of 384 in May repeat one.

The key holds the data bit for bit (`repr` of the network, the raw bytes of the order
arrays), so a hit is the same problem and gets the same result, to the last bit. Problems
with a time limit are never memoised (their outcome depends on the clock), nor large ones
(`max_orders`: they do not repeat, and their results are big). The memo forgets its oldest
entries beyond `max_held_orders` orders in all (memory grows with the orders held). Not
thread-safe: one per process or task (the simulation makes one per run).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matching.labelling import Labelling
    from matching.problem import ClearingProblem, Network
    from matching.result import ClearingResult
    from matching.trades import Placement

    Entry = tuple[Labelling, ClearingResult, Placement | None]

Key = tuple[object, ...]
#: Networks whose `repr` is held at most (a day's batch uses a few dozen: its lines'
#: day-ahead headroom by hour).
_NETWORK_REPRS = 256


@dataclass(eq=False)
class Memo:
    """Canonical writings and their (inner) results, by problem content."""

    #: Orders held in all (≈ 190 bytes each with their results: ≈ 50 MB at most).
    max_held_orders: int = 250_000
    max_orders: int = 2000
    hits: int = 0
    misses: int = 0
    #: key → (orders, entry), oldest first
    _entries: dict[Key, tuple[int, Entry]] = field(default_factory=dict, repr=False)
    _held: int = field(default=0, repr=False)
    #: id → (network, its `repr`): a batch's problems share their network object
    #: (`market.clearing.input.build_problems`), written out once; the network is held,
    #: so its id is not reused while it is here.
    _network_reprs: dict[int, tuple[Network, str]] = field(default_factory=dict, repr=False)

    def key(self, problem: ClearingProblem) -> Key | None:
        """The problem's content (None: not memoised)."""
        book = problem.orders
        if problem.time_limit_s is not None or len(book) > self.max_orders:
            return None
        return (
            problem.interval.minutes,
            self._network_repr(problem.network),
            len(book),
            book.node.dtype.str,
            book.node.tobytes(),
            book.is_buy.tobytes(),
            book.quantity_kwh.tobytes(),
            book.price.tobytes(),
        )

    def _network_repr(self, network: Network) -> str:
        """`repr(network)`, once per network object (the same text: it is frozen)."""
        held = self._network_reprs.get(id(network))
        if held is not None and held[0] is network:
            return held[1]
        text = repr(network)
        if len(self._network_reprs) >= _NETWORK_REPRS:
            self._network_reprs.clear()
        self._network_reprs[id(network)] = (network, text)
        return text

    def get(self, key: Key) -> Entry | None:
        held = self._entries.get(key)
        if held is None:
            self.misses += 1
            return None
        self.hits += 1
        return held[1]

    def put(self, key: Key, entry: Entry, orders: int) -> None:
        while self._entries and self._held + orders > self.max_held_orders:
            self._held -= self._entries.pop(next(iter(self._entries)))[0]  # the oldest
        self._entries[key] = (orders, entry)
        self._held += orders

    def __len__(self) -> int:
        return len(self._entries)


__all__ = ["Memo"]
