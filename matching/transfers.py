"""Node-to-node transfers: the line flows decomposed into who sends energy to whom.

Nodes are ranked by what they are (never by name or position) and the flows decomposed
along flow-directed paths, packets pushed in topological order (`matching.trades` turns the
transfers into bilateral trades).
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from matching.network import Topology
from matching.problem import FloatArray, IntArray

#: Pieces shorter than this (kWh) are float dust.
DUST_KWH = 1e-12
#: Flow graphs with at least this many flowing lines are decomposed level by level in numpy
#: (`_push`); smaller ones node by node (`_loop`), where numpy's per-call cost per level
#: outweighs the loop (1,000 orders on 100 nodes: 12 → 15 ms per clear with `_push`).
#: Both give the same transfers bit for bit.
VECTOR_LINES = 1_000


def node_ranks(
    topo: Topology, price: FloatArray, supply: FloatArray, demand: FloatArray, flow: FloatArray
) -> tuple[IntArray, IntArray]:
    """A rank per node from what the node is, not what it is called: (price, net position,
    supply, demand), refined by the sorted (flow, neighbour rank) pairs of its lines until
    stable (colour refinement). Returns (rank, class): nodes it cannot tell apart share a
    class (their ranks then follow input order, which the trades never let matter)."""
    n = topo.n_nodes

    def rounded(v: FloatArray) -> list[float]:
        # to the result's 9 decimals, so float dust never orders two nodes
        out: list[float] = (np.round(v, 9) + 0.0).tolist()
        return out

    keys: list[tuple[object, ...]] = list(
        zip(
            rounded(price),
            rounded(supply - demand),
            rounded(supply),
            rounded(demand),
            strict=True,
        )
    )
    rank = _dense_rank(keys)
    if len(set(rank)) == n:
        distinct = np.array(rank, dtype=np.int64)
        return distinct, distinct.copy()
    f_round = rounded(flow)
    # lines that carry something at the result's resolution (float dust is not a neighbour)
    moving = np.flatnonzero(np.array(f_round) != 0)
    ends = [(int(topo.line_from[j]), int(topo.line_to[j]), f_round[j]) for j in moving.tolist()]
    for _ in range(n):
        nbrs: list[list[tuple[float, int]]] = [[] for _ in range(n)]
        for a, b, f in ends:
            nbrs[a].append((f, rank[b]))
            nbrs[b].append((-f, rank[a]))
        refined = _dense_rank([(rank[u], tuple(sorted(nbrs[u]))) for u in range(n)])
        if max(refined, default=-1) == max(rank, default=-1):
            break
        rank = refined
    order = sorted(range(n), key=lambda u: (rank[u], u))
    out = np.empty(n, dtype=np.int64)
    out[np.array(order, dtype=np.int64)] = np.arange(n)
    return out, np.array(rank, dtype=np.int64)


def _dense_rank(keys: list[tuple[object, ...]]) -> list[int]:
    distinct = {k: i for i, k in enumerate(sorted(set(keys)))}  # type: ignore[type-var]
    return [distinct[k] for k in keys]


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

    Nodes are taken in topological order of the flow, level by level (the order does not
    change the result: a node is taken once all its inflow has arrived). At each node the
    arriving energy is used by *class* of origin (`klass`: nodes the ranking cannot tell
    apart share one), lowest first, and the outgoing lines are served by class of their far
    end, lowest first. Energy of one class of origins is used as one packet, each origin
    contributing in proportion to what it still has there; lines to one class of ends are
    served as one line, each taking in proportion to its flow. So
    indistinguishable nodes are treated alike (a symmetric rule) and nothing depends on
    their input order. Where every class has one node this is the plain rank order."""
    if rank is None:
        rank = np.arange(n_nodes, dtype=np.int64)
    if klass is None:
        klass = rank
    # dust is relative to what passes each node: a 1e-6 kWh packet is real next to 1e6 kWh
    through = np.abs(surplus)
    np.add.at(through, lf, np.abs(flow))
    np.add.at(through, lt, np.abs(flow))
    tiny_at = DUST_KWH + 4e-16 * through
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
    parts = _levels(n_nodes, a, b)
    if parts is None:
        out: list[list[list[float]]] = [[] for _ in range(n_nodes)]
        for x, y, f in zip(a.tolist(), b.tolist(), amount.tolist(), strict=True):
            out[x].append([y, f])
        _cancel_cycles(n_nodes, out, DUST_KWH)
        a = np.array([x for x in range(n_nodes) for _ in out[x]], dtype=np.int64)
        b = np.array([int(e[0]) for x in range(n_nodes) for e in out[x]], dtype=np.int64)
        amount = np.array([e[1] for x in range(n_nodes) for e in out[x]], dtype=np.float64)
        parts = _levels(n_nodes, a, b)
        assert parts is not None
    push = _push if a.shape[0] >= VECTOR_LINES else _loop
    src, dst, amt = push(n_nodes, a, b, amount, surplus, tiny_at, rank, klass, parts)
    # pieces of one (origin, destination) summed exactly; the pairs sorted
    key = src * max(n_nodes, 1) + dst
    by = np.argsort(key, kind="stable")
    key, amt = key[by], amt[by]
    if key.shape[0]:
        head = np.ones(key.shape[0], dtype=np.bool_)
        head[1:] = key[1:] != key[:-1]
        starts = np.flatnonzero(head)
        total = amt[starts]
        size = np.diff(np.append(starts, key.shape[0]))
        for g in np.flatnonzero(size > 1).tolist():
            total[g] = math.fsum(amt[starts[g] : starts[g] + size[g]].tolist())
        key, amt = key[starts], total
    return key // max(n_nodes, 1), key % max(n_nodes, 1), amt


def _segment_index(start: IntArray, count: IntArray) -> IntArray:
    """The positions start[i], …, start[i] + count[i] − 1 of every i, concatenated."""
    total = int(count.sum())
    out: IntArray = np.repeat(start - np.cumsum(count) + count, count) + np.arange(total)
    return out


def _push(
    n: int,
    a: IntArray,
    b: IntArray,
    amount: FloatArray,
    surplus: FloatArray,
    tiny_at: FloatArray,
    rank: IntArray,
    klass: IntArray,
    parts: list[IntArray],
) -> tuple[IntArray, IntArray, FloatArray]:
    """The transfers' pieces (origin, destination, kWh), level by level of the flow graph
    (`_levels`; every node of a level has all its inflow).

    At a node the arriving pieces (lowest class of origin first) are cut along the demands
    (the node's own deficit, then its lines in rank order of their ends) — what `_node`
    does piece by piece. Where every piece and every line end is its own class, that is a
    merge of the two lists, and its running remainders are the running sum of the merged
    list (one side of every step is used up exactly, x − x = 0), so the pieces are
    min(remainder, next item) of one sequential `cumsum` per node: the same floating-point
    operations as the loop. A node is taken that way only when the merge is the loop's
    (each item comes from the side the remainder's sign asks for) and no remainder is
    float dust (which the loop drops) until the last item; any other node (a class with
    several nodes, a dust line, a remainder left over) goes through `_node`."""
    level = np.zeros(n, dtype=np.int64)
    for i, part in enumerate(parts):
        level[part] = i
    l_start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(a, minlength=n), out=l_start[1:])
    line_bad = np.zeros(n, dtype=np.bool_)
    if a.shape[0] > 1:
        same = (a[1:] == a[:-1]) & (klass[b[1:]] == klass[b[:-1]])
        line_bad[a[1:][same]] = True
    tiny = np.asarray(tiny_at, dtype=np.float64)
    klass_l: list[int] | None = None
    rank_l: list[int] | None = None
    # arriving pieces per level: (destination, class of origin, origin, kWh)
    bucket: list[list[tuple[IntArray, IntArray, IntArray, FloatArray]]] = [[] for _ in parts]
    rows: list[tuple[IntArray, IntArray, FloatArray]] = []
    for lv, nodes in enumerate(parts):
        mine = nodes[surplus[nodes] > 0]
        got = [*bucket[lv], (mine, klass[mine], mine, surplus[mine])]
        bucket[lv] = []
        p_dst = np.concatenate([g[0] for g in got])
        if p_dst.shape[0] == 0:
            continue
        p_cls = np.concatenate([g[1] for g in got])
        p_org = np.concatenate([g[2] for g in got])
        p_amt = np.concatenate([g[3] for g in got])
        by = np.lexsort((p_cls, p_dst))
        p_dst, p_cls, p_org, p_amt = p_dst[by], p_cls[by], p_org[by], p_amt[by]
        p_first = np.flatnonzero(np.concatenate([[True], p_dst[1:] != p_dst[:-1]]))
        act = p_dst[p_first]
        p_count = np.diff(np.append(p_first, p_dst.shape[0]))
        bad = line_bad[act].copy()
        dup = (p_dst[1:] == p_dst[:-1]) & (p_cls[1:] == p_cls[:-1])
        if dup.any():
            bad[np.searchsorted(act, p_dst[1:][dup])] = True
        own = surplus[act]
        n_line = l_start[act + 1] - l_start[act]
        deficit = own < 0
        n_dem = n_line + deficit
        # demands: the deficit first, then the lines in rank order of their ends
        d_row = np.repeat(np.arange(act.shape[0]), n_dem)
        d_seq = np.arange(d_row.shape[0]) - np.repeat(np.cumsum(n_dem) - n_dem, n_dem)
        li = _segment_index(l_start[act], n_line)
        is_def = d_seq < deficit[d_row]
        d_val = np.empty(d_row.shape[0])
        d_dest = np.full(d_row.shape[0], -1, dtype=np.int64)
        d_val[is_def] = -own[deficit]
        d_val[~is_def] = amount[li]
        d_dest[~is_def] = b[li]
        small = d_val <= tiny[act[d_row]]
        if small.any():
            bad[d_row[small]] = True
        has = n_dem > 0
        good = has & ~bad
        p_row = np.repeat(np.arange(act.shape[0]), p_count)
        pieces = _merge(act, good, p_row, p_amt, d_row, d_val, tiny[act])
        if pieces is not None:
            ok, e_p, e_d, e_amt = pieces
            good &= ok
            keep = good[p_row[e_p]]
            e_p, e_d, e_amt = e_p[keep], e_d[keep], e_amt[keep]
            dest = d_dest[e_d]
            to_node = dest < 0
            rows.append((p_org[e_p[to_node]], act[d_row[e_d[to_node]]], e_amt[to_node]))
            go = ~to_node
            if go.any():
                dv = dest[go]
                _send(bucket, level, dv, p_cls[e_p[go]], p_org[e_p[go]], e_amt[go])
        slow = np.flatnonzero(has & ~good)
        if slow.shape[0] == 0:
            continue
        if klass_l is None:
            klass_l, rank_l = klass.tolist(), rank.tolist()
        assert rank_l is not None
        inbound: dict[int, list[tuple[int, int, float]]] = defaultdict(list)
        transfers: dict[int, list[float]] = defaultdict(list)
        for r in slow.tolist():
            u = int(act[r])
            f0 = int(p_first[r])
            arrived = list(
                zip(
                    p_cls[f0 : f0 + p_count[r]].tolist(),
                    p_org[f0 : f0 + p_count[r]].tolist(),
                    p_amt[f0 : f0 + p_count[r]].tolist(),
                    strict=True,
                )
            )
            lo, hi = int(l_start[u]), int(l_start[u + 1])
            lines = [[v, f] for v, f in zip(b[lo:hi].tolist(), amount[lo:hi].tolist(), strict=True)]
            _node(u, float(own[r]), arrived, lines, float(tiny[u]), klass_l, rank_l, inbound,
                  transfers, n)  # fmt: skip
        for k, vals in transfers.items():
            kk = np.full(len(vals), k, dtype=np.int64)
            rows.append((kk // n, kk % n, np.array(vals, dtype=np.float64)))
        for v, got_v in inbound.items():
            vv = np.full(len(got_v), v, dtype=np.int64)
            cls = np.array([g[0] for g in got_v], dtype=np.int64)
            org = np.array([g[1] for g in got_v], dtype=np.int64)
            amt = np.array([g[2] for g in got_v], dtype=np.float64)
            _send(bucket, level, vv, cls, org, amt)
    if not rows:
        e_i = np.zeros(0, dtype=np.int64)
        return e_i, e_i.copy(), np.zeros(0)
    return (
        np.concatenate([r[0] for r in rows]).astype(np.int64),
        np.concatenate([r[1] for r in rows]).astype(np.int64),
        np.concatenate([r[2] for r in rows]).astype(np.float64),
    )


def _loop(
    n: int,
    a: IntArray,
    b: IntArray,
    amount: FloatArray,
    surplus: FloatArray,
    tiny_at: FloatArray,
    rank: IntArray,
    klass: IntArray,
    parts: list[IntArray],
) -> tuple[IntArray, IntArray, FloatArray]:
    """`_push`'s pieces node by node with `_node` (small flow graphs)."""
    klass_l, rank_l, surplus_l, tiny_l = (
        klass.tolist(),
        rank.tolist(),
        surplus.tolist(),
        tiny_at.tolist(),
    )
    out: list[list[list[float]]] = [[] for _ in range(n)]
    for x, y, f in zip(a.tolist(), b.tolist(), amount.tolist(), strict=True):
        out[x].append([y, f])
    inbound: dict[int, list[tuple[int, int, float]]] = defaultdict(list)
    transfers: dict[int, list[float]] = defaultdict(list)
    for u in np.concatenate(parts).tolist():
        own = surplus_l[u]
        arrived = inbound.pop(u, [])
        if own > 0:
            arrived.append((klass_l[u], u, own))
        if arrived:
            _node(u, own, arrived, out[u], tiny_l[u], klass_l, rank_l, inbound, transfers, n)
    keys = [k for k, v in transfers.items() for _ in v]
    kk = np.array(keys, dtype=np.int64)
    amt = np.array([x for v in transfers.values() for x in v], dtype=np.float64)
    return kk // max(n, 1), kk % max(n, 1), amt


def _send(
    bucket: list[list[tuple[IntArray, IntArray, IntArray, FloatArray]]],
    level: IntArray,
    dest: IntArray,
    cls: IntArray,
    org: IntArray,
    amt: FloatArray,
) -> None:
    """Pieces arriving at `dest`, filed under each destination's level."""
    lv = level[dest]
    if lv.shape[0] and (lv == lv[0]).all():
        bucket[int(lv[0])].append((dest, cls, org, amt))
        return
    by = np.argsort(lv, kind="stable")
    lv_s = lv[by]
    cut = np.flatnonzero(np.concatenate([[True], lv_s[1:] != lv_s[:-1]]))
    for i, c0 in enumerate(cut.tolist()):
        c1 = int(cut[i + 1]) if i + 1 < cut.shape[0] else lv_s.shape[0]
        sel = by[c0:c1]
        bucket[int(lv_s[c0])].append((dest[sel], cls[sel], org[sel], amt[sel]))


def _merge(
    act: IntArray,
    good: np.ndarray,
    p_row: IntArray,
    p_amt: FloatArray,
    d_row: IntArray,
    d_val: FloatArray,
    tiny: FloatArray,
) -> tuple[np.ndarray, IntArray, IntArray, FloatArray] | None:
    """The merge of each good node's packets (p_row, p_amt; in class order) with its demands
    (d_row, d_val; in order): (whether the node's merge is the loop's, and per piece its
    packet, its demand and kWh). None when no node is good."""
    n_act = act.shape[0]
    pk = good[p_row]
    dk = good[d_row]
    if not pk.any():
        return None
    pi = np.flatnonzero(pk)
    di = np.flatnonzero(dk)
    # where each item starts along its node's side (only to order the merge)
    p_start = _exclusive(p_row[pi], p_amt[pi])
    d_start = _exclusive(d_row[di], d_val[di])
    row = np.concatenate([p_row[pi], d_row[di]])
    side = np.concatenate([np.zeros(pi.shape[0], np.int64), np.ones(di.shape[0], np.int64)])
    item = np.concatenate([pi, di])
    val = np.concatenate([p_amt[pi], -d_val[di]])
    by = np.lexsort((side, np.concatenate([p_start, d_start]), row))
    row, side, item, val = row[by], side[by], item[by], val[by]
    count = np.bincount(row, minlength=n_act)
    first = np.cumsum(count) - count
    col = np.arange(row.shape[0]) - first[row]
    width = int(count.max())
    table = np.zeros((n_act, width))
    table[row, col] = val
    s = np.cumsum(table, axis=1)[row, col]  # sequential per node: the loop's remainders
    last = col == count[row] - 1
    nxt = np.minimum(np.arange(row.shape[0]) + 1, row.shape[0] - 1)
    t = tiny[row]
    wrong = ~last & (((s < 0) & (side[nxt] == 1)) | ((s > 0) & (side[nxt] == 0)))
    wrong |= ~last & (s != 0) & (np.abs(s) <= t)
    prev = np.concatenate([[0.0], s[:-1]])
    prev[col == 0] = 0.0
    wrong |= last & ((np.abs(s) > t) | (prev == 0))
    ok = np.ones(n_act, dtype=np.bool_)
    ok[row[wrong]] = False
    # the packet and demand in use at each item (the latest of each side so far; at every
    # piece of a good node both sides have started within the node: its first two items
    # are one of each)
    at = np.arange(row.shape[0])
    cur_p = np.maximum.accumulate(np.where(side == 0, at, -1))
    cur_d = np.maximum.accumulate(np.where(side == 1, at, -1))
    ev = (col > 0) & (prev != 0) & ok[row]
    e_amt = np.minimum(np.abs(prev[ev]), np.abs(val[ev]))
    return ok, item[cur_p[ev]], item[cur_d[ev]], e_amt


def _exclusive(row: IntArray, val: FloatArray) -> FloatArray:
    """Each value's start along its row (rows sorted): the sum of the row's values before it
    (approximate; it only orders a merge)."""
    c = np.cumsum(val)
    first = np.flatnonzero(np.concatenate([[True], row[1:] != row[:-1]])) if row.shape[0] else row
    base = np.repeat(c[first] - val[first], np.diff(np.append(first, row.shape[0])))
    out: FloatArray = c - val - base
    return out


def _node(
    u: int,
    own: float,
    arrived: list[tuple[int, int, float]],
    lines: list[list[float]],
    tiny: float,
    klass_l: list[int],
    rank_l: list[int],
    inbound: dict[int, list[tuple[int, int, float]]],
    transfers: dict[int, list[float]],
    n_nodes: int,
) -> None:
    """One node of `decompose_flows` in the general case (a class of origins or of line
    ends with several nodes): packets of one class of origins, lines to one class of ends
    served as one."""
    packets = _packets(arrived, rank_l)
    p = 0
    n_packets = len(packets)
    if own < 0:  # the node's own deficit takes what arrives first
        need = -own
        while need > tiny and p < n_packets:
            packet = packets[p]
            take = packet.left if packet.left < need else need
            for origin, piece in packet.take(take):
                transfers[origin * n_nodes + u].append(piece)
            need -= take
            if packet.left <= tiny:
                p += 1
    for ends, total in _line_groups(lines, klass_l):
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
        # what is left is float dust of the balance at this node: it ends here
        for packet in packets[p:]:
            for origin, piece in packet.rest():
                transfers[origin * n_nodes + u].append(piece)


def _levels(n: int, a: IntArray, b: IntArray) -> list[IntArray] | None:
    """The flow graph's nodes (edges a → b, sorted by a) level by level: a node's level comes
    after every node with a line into it (Kahn's algorithm on arrays); None if the graph has
    a cycle. Taking the nodes in any such order gives the same transfers (a node is taken
    once all its inflow has arrived)."""
    indeg = np.bincount(b, minlength=n)
    if a.shape[0] == 0:
        return [np.arange(n, dtype=np.int64)]
    start = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(np.bincount(a, minlength=n), out=start[1:])
    ready = np.flatnonzero(indeg == 0)
    parts = []
    done = 0
    while ready.shape[0]:
        parts.append(ready)
        done += ready.shape[0]
        cnt = start[ready + 1] - start[ready]
        nxt = b[_segment_index(start[ready], cnt)]
        if nxt.shape[0] == 0:
            break
        np.subtract.at(indeg, nxt, 1)
        nxt = nxt[indeg[nxt] == 0]
        ready = np.unique(nxt)
    if done != n:
        return None
    return parts


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
