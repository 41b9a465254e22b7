"""pass@k: the unbiased estimator and its k grids (the crossover of two curves: `crossing`).

`pass_at_k(n, c, k)` is ``1 - C(n-c, k) / C(n, k)`` (Chen et al., 2021), computed
without binomials: the ratio is ``prod_{j<m} (1 - M / (n - j))`` with
``m = min(c, k)``, ``M = max(c, k)`` (the two products are equal), summed in
log space. When ``m * M >= 40 n`` the ratio is below ``exp(-40)`` < 5e-18, so the
estimate is exactly 1.0 in float64 and no terms are summed; otherwise fewer than
``sqrt(40 n)`` terms are needed (6,325 for n = 10^6). Agrees with exact rational
arithmetic within 1e-12.

Not here: averaging over tasks with uncertainty (see `uncertainty`), I/O.
"""

from __future__ import annotations

import numpy as np

from tether.errors import InputError

# Above this many log terms per (n, c, k) the ratio underflows float64's 1 - x.
_NEGLIGIBLE_LOG = 40.0
# Elements per chunk of the (pairs x terms) work array.
_CHUNK_ELEMENTS = 1 << 22


def pass_at_k(n, c, k) -> np.ndarray | float:
    """Unbiased pass@k for each task (rows) and each k (columns).

    ``n`` and ``c`` are per-task sample and correct counts (scalars or 1-D arrays of
    equal length); ``k`` is a scalar or a 1-D grid. The result has shape
    ``n.shape + k.shape`` (a float when all are scalars). ``k > n`` is an error.
    """
    n_arr, c_arr, k_arr = _validated(n, c, k)
    shape = n_arr.shape + k_arr.shape
    nn, cc, kk = np.broadcast_arrays(
        n_arr.reshape(n_arr.shape + (1,) * k_arr.ndim),
        c_arr.reshape(c_arr.shape + (1,) * k_arr.ndim),
        k_arr,
    )
    flat = _pass_at_k_flat(nn.ravel(), cc.ravel(), kk.ravel()).reshape(shape)
    return float(flat) if flat.ndim == 0 else flat


def _validated(n, c, k) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_arr, c_arr, k_arr = (np.asarray(v) for v in (n, c, k))
    for name, arr in (("n", n_arr), ("c", c_arr), ("k", k_arr)):
        if arr.ndim > 1:
            raise InputError(f"pass_at_k: {name} must be a scalar or 1-D array, got shape {arr.shape}")
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            if not np.all(np.equal(np.mod(arr, 1), 0)):
                raise InputError(f"pass_at_k: {name} must hold whole numbers")
    n_arr, c_arr, k_arr = (a.astype(np.int64) for a in (n_arr, c_arr, k_arr))
    if n_arr.shape != c_arr.shape:
        raise InputError(f"pass_at_k: n and c differ in shape: {n_arr.shape} vs {c_arr.shape}")
    if np.any(c_arr < 0) or np.any(c_arr > n_arr):
        raise InputError("pass_at_k: every c must satisfy 0 <= c <= n")
    if np.any(k_arr < 1):
        raise InputError("pass_at_k: every k must be >= 1")
    if n_arr.size and k_arr.size and k_arr.max() > n_arr.min():
        raise InputError(
            f"pass_at_k: k={int(k_arr.max())} exceeds n={int(n_arr.min())} samples of some task; "
            "pass@k needs k <= n"
        )
    return n_arr, c_arr, k_arr


def _pass_at_k_flat(n: np.ndarray, c: np.ndarray, k: np.ndarray) -> np.ndarray:
    """pass@k for aligned 1-D int64 arrays, computed once per distinct (n, c, k)."""
    if n.size == 0:
        return np.zeros(0)
    triples, inverse = np.unique(np.stack([n, c, k], axis=1), axis=0, return_inverse=True)
    un, uc, uk = triples.T
    out = np.zeros(len(triples))
    small, large = np.minimum(uc, uk), np.maximum(uc, uk)
    certain = (un - uc < uk) | (small.astype(float) * large >= _NEGLIGIBLE_LOG * un)
    out[certain & (uc > 0)] = 1.0
    todo = np.flatnonzero(~certain & (uc > 0))
    if todo.size:
        log_ratio = _log_ratio(un[todo], small[todo], large[todo])
        out[todo] = -np.expm1(log_ratio)
    return out[inverse.ravel()]


def _log_ratio(n: np.ndarray, m: np.ndarray, big: np.ndarray) -> np.ndarray:
    """sum_{j<m} log(1 - big/(n-j)) per entry, in chunks of similar m."""
    order = np.argsort(m, kind="stable")
    result = np.empty(len(m))
    start = 0
    while start < len(order):
        stop = start + 1
        while stop < len(order) and (stop - start + 1) * int(m[order[stop]]) <= _CHUNK_ELEMENTS:
            stop += 1
        idx = order[start:stop]
        result[idx] = _log_ratio_block(n[idx], m[idx], big[idx], int(m[idx].max()))
        start = stop
    return result


def _log_ratio_block(n, m, big, width) -> np.ndarray:
    j = np.arange(width)[None, :]
    denom = (n[:, None] - j).astype(float)
    valid = j < m[:, None]
    x = np.where(valid, big[:, None] / denom, 0.0)
    # log1p(-x) is accurate for small x; for x > 1/2 the exact-integer quotient is.
    remaining = np.where(valid, (n[:, None] - j - big[:, None]).astype(float), 1.0)
    terms = np.where(x <= 0.5, np.log1p(-x), np.log(remaining / np.where(valid, denom, 1.0)))
    return np.where(valid, terms, 0.0).sum(axis=1)


def log_k_grid(max_k: int, extra: list[int] | None = None) -> np.ndarray:
    """Powers of two up to ``max_k``, plus ``max_k`` itself and any ``extra`` values."""
    if max_k < 1:
        raise InputError(f"k grid needs at least one sample per task, got max k = {max_k}")
    grid = {1 << i for i in range(int(np.log2(max_k)) + 1)} | {int(max_k)}
    grid |= {int(v) for v in (extra or []) if 1 <= v <= max_k}
    return np.array(sorted(grid), dtype=np.int64)


def pass_at_k_where_sampled(n, c, k_grid) -> np.ndarray:
    """pass@k of each task (rows) at each k of the grid (columns), NaN where k > n (a task is
    not estimated beyond its own samples)."""
    n, c = np.asarray(n, dtype=np.int64), np.asarray(c, dtype=np.int64)
    out = np.full((len(n), len(k_grid)), np.nan)
    for j, k in enumerate(np.asarray(k_grid, dtype=np.int64)):
        rows = n >= k
        if rows.any():
            out[rows, j] = pass_at_k(n[rows], c[rows], int(k))
    return out
