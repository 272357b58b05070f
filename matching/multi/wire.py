"""An LP as OR-Tools' `MPModelProto`, written in the protobuf wire format from arrays.

`WarmLp` (`matching.multi.branch`) loads the block model into pywraplp's GLOP from an
`MPModelProto`. Filling that message one `variable.add` / `constraint.add` call at a time
costs ≈ 0.4 s at the day-ahead scale (44,000 columns, 18,000 rows); the same message
encoded here with numpy and parsed once by protobuf costs a few ms. The parsed message
equals the one built call by call (`tests/matching/test_multi_wire.py`), so GLOP gets the
same model: same columns, rows, bounds, coefficients and order.

Wire format (proto2, `ortools/linear_solver/linear_solver.proto`): the model is
`maximize` (field 1, varint), then every `variable` (field 3: lower_bound 1, upper_bound 2,
objective_coefficient 3, each a fixed64 double), then every `constraint` (field 4:
lower_bound 2, upper_bound 3, then var_index 6 and coefficient 7 packed).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from matching.problem import FloatArray, IntArray

U8 = np.uint8
_VARIABLE = np.dtype(
    [("head", U8, 2), ("t_lo", U8), ("lo", "<f8"), ("t_hi", U8), ("hi", "<f8"), ("t_obj", U8),
     ("obj", "<f8")]
)  # fmt: skip


def _tag(field: int, wire: int) -> int:
    return (field << 3) | wire


def varints(values: IntArray) -> tuple[np.ndarray, IntArray]:
    """The base-128 varints of non-negative integers, back to back (uint8), and each one's
    length in bytes."""
    v = np.asarray(values, dtype=np.uint64)
    size = np.ones(v.shape[0], dtype=np.int64)
    for k in range(1, 10):
        size += v >= np.uint64(1 << (7 * k))
    start = np.cumsum(size) - size
    out = np.empty(int(size.sum()), dtype=U8)
    for j in range(int(size.max()) if size.shape[0] else 0):
        has = size > j
        byte = (v[has] >> np.uint64(7 * j)) & np.uint64(0x7F)
        more = (size[has] > j + 1).astype(np.uint64) << np.uint64(7)
        out[start[has] + j] = (byte | more).astype(U8)
    return out, size


def _doubles(values: FloatArray) -> np.ndarray:
    return np.ascontiguousarray(values, dtype="<f8").view(U8)


def _const(byte: int, n: int) -> tuple[np.ndarray, IntArray]:
    return np.full(n, byte, dtype=U8), np.ones(n, dtype=np.int64)


def _records(pieces: list[tuple[np.ndarray, IntArray]], n: int) -> tuple[np.ndarray, IntArray]:
    """Rows made of pieces: each piece is (its bytes for every row back to back, each row's
    length); returns the rows' bytes back to back and each row's length."""
    lengths = [np.asarray(ln, dtype=np.int64) for _, ln in pieces]
    row_len = np.zeros(n, dtype=np.int64)
    for ln in lengths:
        row_len += ln
    row_start = np.cumsum(row_len) - row_len
    out = np.empty(int(row_len.sum()), dtype=U8)
    at = row_start.copy()
    for (flat, _), ln in zip(pieces, lengths, strict=True):
        src = np.cumsum(ln) - ln
        out[np.arange(flat.shape[0]) + np.repeat(at - src, ln)] = flat
        at += ln
    return out, row_len


def _fixed(values: FloatArray) -> tuple[np.ndarray, IntArray]:
    return _doubles(values), np.full(values.shape[0], 8, dtype=np.int64)


def model_bytes(
    lower: FloatArray,
    upper: FloatArray,
    objective: FloatArray,
    row_lower: FloatArray,
    row_upper: FloatArray,
    indptr: IntArray,
    indices: IntArray,
    data: FloatArray,
    *,
    maximize: bool,
) -> bytes:
    """The serialized `MPModelProto` of max/min objective·x, lower ≤ x ≤ upper,
    row_lower ≤ A x ≤ row_upper (A in CSR: indptr, indices, data)."""
    n_var, n_row = lower.shape[0], row_lower.shape[0]
    # every variable is 29 bytes: field 3's tag, length 27, then three tagged doubles
    var = np.empty(n_var, dtype=_VARIABLE)
    var["head"] = (_tag(3, 2), 27)
    var["t_lo"], var["lo"] = _tag(1, 1), lower
    var["t_hi"], var["hi"] = _tag(2, 1), upper
    var["t_obj"], var["obj"] = _tag(3, 1), objective
    variables = var.view(U8)

    nnz: IntArray = np.diff(np.asarray(indptr, dtype=np.int64)).astype(np.int64)
    has = nnz > 0
    idx_bytes, idx_size = varints(indices)
    ends = np.concatenate([[0], np.cumsum(idx_size)])
    ptr = np.asarray(indptr, dtype=np.int64)
    per_row_idx = ends[ptr[1:]] - ends[ptr[:-1]]
    idx_len_bytes, idx_len_size = varints(per_row_idx[has])
    coef_len_bytes, coef_len_size = varints(8 * nnz[has])

    def only(lengths: IntArray) -> IntArray:
        out = np.zeros(n_row, dtype=np.int64)
        out[has] = lengths
        return out

    def tag_if(field: int) -> tuple[np.ndarray, IntArray]:
        return np.full(int(has.sum()), _tag(field, 2), dtype=U8), has.astype(np.int64)

    row_body, row_len = _records(
        [
            _const(_tag(2, 1), n_row),
            _fixed(row_lower),
            _const(_tag(3, 1), n_row),
            _fixed(row_upper),
            tag_if(6),
            (idx_len_bytes, only(idx_len_size)),
            (idx_bytes, per_row_idx),
            tag_if(7),
            (coef_len_bytes, only(coef_len_size)),
            (_doubles(data), 8 * nnz),
        ],
        n_row,
    )
    row_head, row_head_len = varints(row_len)
    rows, _ = _records(
        [_const(_tag(4, 2), n_row), (row_head, row_head_len), (row_body, row_len)], n_row
    )
    head = bytes([_tag(1, 0), 1 if maximize else 0])
    return head + variables.tobytes() + rows.tobytes()


def model_proto(model: Any, *, maximize: bool) -> Any:
    """The `MPModelProto` of a `MultiModel` (its matrix in scipy CSR)."""
    # OR-Tools ships no stubs for this module
    from ortools.linear_solver import linear_solver_pb2  # type: ignore[attr-defined]

    mat = model.matrix.tocsr()
    raw = model_bytes(
        model.lower,
        model.upper,
        model.objective,
        model.row_lower,
        model.row_upper,
        mat.indptr,
        mat.indices,
        mat.data,
        maximize=maximize,
    )
    return linear_solver_pb2.MPModelProto.FromString(raw)


__all__ = ["model_bytes", "model_proto", "varints"]
