"""The flow decomposition as it was before it was vectorised (`matching.transfers` at
b9d4a6d: one node at a time in Python, lowest rank first among the ready nodes): the
reference `tests/matching/test_transfers_decompose.py` compares the vectorised one with,
bit for bit."""

# ruff: noqa
# mypy: ignore-errors

from __future__ import annotations

import heapq
import math
from collections import defaultdict

import numpy as np

DUST_KWH = 1e-12


def decompose_flows(
    n_nodes: int,
    lf: IntArray,
    lt: IntArray,
    flow: FloatArray,
    surplus: FloatArray,
    rank: IntArray | None = None,
    klass: IntArray | None = None,
) -> tuple[IntArray, IntArray, FloatArray]:
    """Node-to-node transfers (src, dst, kWh) that carry each node's surplus along the flows.

    Nodes are taken in topological order of the flow (lowest rank first among the ready
    ones; the order does not change the result: a node is taken once all its inflow has
    arrived). At each node the arriving energy is used by *class* of origin (`klass`: nodes
    the ranking cannot tell apart share one), lowest first, and the outgoing lines are
    served by class of their far end, lowest first. Energy of one class of origins is used
    as one packet, each origin contributing in proportion to what it still has there; lines
    to one class of ends are served as one line, each taking in proportion to its flow. So
    indistinguishable nodes are treated alike (a symmetric rule) and nothing depends on
    their input order. Where every class has one node this is the plain rank order."""
    if rank is None:
        rank = np.arange(n_nodes, dtype=np.int64)
    if klass is None:
        klass = rank
    rank_l = rank.tolist()
    klass_l = klass.tolist()
    # dust is relative to what passes each node: a 1e-6 kWh packet is real next to 1e6 kWh
    through = np.abs(surplus)
    np.add.at(through, lf, np.abs(flow))
    np.add.at(through, lt, np.abs(flow))
    tiny_at = (DUST_KWH + 4e-16 * through).tolist()
    # lines merged per ordered pair of nodes, each node's served in rank order of their ends
    moving = flow != 0
    fwd = flow[moving] > 0
    a = np.where(fwd, lf[moving], lt[moving])
    b = np.where(fwd, lt[moving], lf[moving])
    amount = np.abs(flow[moving])
    if a.shape[0]:
        by = np.lexsort((rank[b], a))
        a, b, amount = a[by], b[by], amount[by]
        new = np.ones(a.shape[0], dtype=np.bool_)
        new[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
        amount = np.bincount(np.cumsum(new) - 1, weights=amount)
        a, b = a[new], b[new]
    out: list[list[list[float]]] = [[] for _ in range(n_nodes)]
    for x, y, f in zip(a.tolist(), b.tolist(), amount.tolist(), strict=True):
        out[x].append([y, f])
    order = _topological_order(n_nodes, out, rank_l)
    if order is None:
        _cancel_cycles(n_nodes, out, DUST_KWH)
        order = _topological_order(n_nodes, out, rank_l)
        assert order is not None
    # arriving energy: (class of origin, origin, kWh) per piece
    inbound: list[list[tuple[int, int, float]]] = [[] for _ in range(n_nodes)]
    transfers: dict[tuple[int, int], list[float]] = defaultdict(list)
    surplus_l = surplus.tolist()
    for u in order:
        tiny = tiny_at[u]
        own = surplus_l[u]
        arrived = inbound[u]
        inbound[u] = []
        if own > 0:
            arrived.append((klass_l[u], u, own))
        if not arrived:
            continue
        packets = _packets(arrived, rank_l)
        p = 0
        n_packets = len(packets)
        if own < 0:  # the node's own deficit takes what arrives first
            need = -own
            while need > tiny and p < n_packets:
                packet = packets[p]
                take = packet.left if packet.left < need else need
                for origin, piece in packet.take(take):
                    transfers[(origin, u)].append(piece)
                need -= take
                if packet.left <= tiny:
                    p += 1
        for ends, total in _line_groups(out[u], klass_l):
            need = total
            while need > tiny and p < n_packets:
                packet = packets[p]
                take = packet.left if packet.left < need else need
                c = packet.klass
                for origin, piece in packet.take(take):
                    if len(ends) == 1:
                        inbound[ends[0][0]].append((c, origin, piece))
                    else:
                        for v, f in ends:
                            inbound[v].append((c, origin, piece * (f / total)))
                need -= take
                if packet.left <= tiny:
                    p += 1
        if own < 0:
            # what is left is float dust of the balance at this node (a 1e-9 kWh packet
            # arriving at a node trading 1e6 kWh): it ends here rather than vanish, so
            # every order's trades still add up to its acceptance
            for packet in packets[p:]:
                for origin, piece in packet.rest():
                    transfers[(origin, u)].append(piece)
    keys = sorted(transfers)
    src = np.array([k[0] for k in keys], dtype=np.int64)
    dst = np.array([k[1] for k in keys], dtype=np.int64)
    amt = np.array(
        [v[0] if len(v) == 1 else math.fsum(v) for v in (transfers[k] for k in keys)],
        dtype=np.float64,
    )
    return src, dst, amt


class _Packet:
    """The energy of one class of origins at a node: `members` [origin, kWh] (in rank order
    of the origins), `left` their total. Taking from it takes from every member in
    proportion to what it has (one member: exactly the amount)."""

    __slots__ = ("klass", "left", "members")

    def __init__(self, klass: int, members: list[list[float]]) -> None:
        self.klass = klass
        self.members = members
        self.left = members[0][1] if len(members) == 1 else math.fsum(m[1] for m in members)

    def take(self, amount: float) -> list[tuple[int, float]]:
        if len(self.members) == 1:
            member = self.members[0]
            member[1] -= amount
            self.left -= amount
            return [(int(member[0]), amount)]
        if amount >= self.left:
            out = [(int(m[0]), m[1]) for m in self.members]
            for m in self.members:
                m[1] = 0.0
            self.left = 0.0
            return out
        share = amount / self.left
        out = []
        for m in self.members:
            piece = m[1] * share
            m[1] -= piece
            out.append((int(m[0]), piece))
        self.left -= amount
        return out

    def rest(self) -> list[tuple[int, float]]:
        return [(int(m[0]), m[1]) for m in self.members if m[1] > 0]


def _packets(arrived: list[tuple[int, int, float]], rank: list[int]) -> list[_Packet]:
    """The arriving pieces as packets, one per class of origin, lowest class first; a
    packet's members are its origins (pieces from one origin summed exactly)."""
    if len(arrived) == 1:
        c, origin, amount = arrived[0]
        return [_Packet(c, [[origin, amount]])]
    if len({a[0] for a in arrived}) == len(arrived):  # every piece its own class
        return [_Packet(c, [[o, v]]) for c, o, v in sorted(arrived, key=lambda a: a[0])]
    by_class: dict[int, dict[int, list[float]]] = defaultdict(lambda: defaultdict(list))
    for c, origin, amount in arrived:
        by_class[c][origin].append(amount)
    packets = []
    for c in sorted(by_class):
        origins = by_class[c]
        members: list[list[float]] = [
            [o, v[0] if len(v) == 1 else math.fsum(v)]
            for o, v in sorted(origins.items(), key=lambda item: rank[item[0]])
        ]
        packets.append(_Packet(c, members))
    return packets


def _line_groups(
    lines: list[list[float]], klass: list[int]
) -> list[tuple[list[tuple[int, float]], float]]:
    """A node's outgoing lines (in rank order of their ends) grouped by class of the end:
    ([(end, kWh)], total kWh) per class, lowest class first."""
    groups: list[tuple[list[tuple[int, float]], float]] = []
    i = 0
    while i < len(lines):
        v0 = int(lines[i][0])
        ends = [(v0, lines[i][1])]
        j = i + 1
        while j < len(lines) and klass[int(lines[j][0])] == klass[v0]:
            ends.append((int(lines[j][0]), lines[j][1]))
            j += 1
        total = ends[0][1] if len(ends) == 1 else math.fsum(f for _, f in ends)
        groups.append((ends, total))
        i = j
    return groups


def _topological_order(n: int, out: list[list[list[float]]], rank: list[int]) -> list[int] | None:
    indeg = [0] * n
    for u in range(n):
        for v, _ in out[u]:
            indeg[int(v)] += 1
    heap = [(rank[u], u) for u in range(n) if indeg[u] == 0]
    heapq.heapify(heap)
    order: list[int] = []
    while heap:
        _, u = heapq.heappop(heap)
        order.append(u)
        for v, _ in out[u]:
            indeg[int(v)] -= 1
            if indeg[int(v)] == 0:
                heapq.heappush(heap, (rank[int(v)], int(v)))
    return order if len(order) == n else None


def _cancel_cycles(n: int, out: list[list[list[float]]], tiny: float) -> None:
    """Remove circulations (they carry no trade) until the flow graph is acyclic."""
    while True:
        cycle = _find_cycle(n, out)
        if cycle is None:
            return
        amount = min(out[u][i][1] for u, i in cycle)
        for u, i in cycle:
            out[u][i][1] -= amount
        for u in {u for u, _ in cycle}:
            out[u] = [e for e in out[u] if e[1] > tiny]


def _find_cycle(n: int, out: list[list[list[float]]]) -> list[tuple[int, int]] | None:
    color = [0] * n
    for start in range(n):
        if color[start]:
            continue
        stack: list[tuple[int, int]] = [(start, 0)]
        path: list[tuple[int, int]] = []
        color[start] = 1
        while stack:
            u, i = stack[-1]
            if i < len(out[u]):
                stack[-1] = (u, i + 1)
                v = int(out[u][i][0])
                if color[v] == 1:
                    path.append((u, i))
                    nodes = [p[0] for p in path]
                    return path[nodes.index(v) :]
                if color[v] == 0:
                    color[v] = 1
                    path.append((u, i))
                    stack.append((v, 0))
            else:
                color[u] = 2
                stack.pop()
                if path:
                    path.pop()
    return None
