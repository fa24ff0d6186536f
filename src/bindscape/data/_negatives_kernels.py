"""numba kernels of `bindscape.data.negatives` (imported lazily: numba is heavy).

Module-level so numba's on-disk cache works (closures calling other jitted closures are recompiled on
every run).
"""

from __future__ import annotations

import numba
import numpy as np


@numba.njit(cache=True, nogil=True)
def _next(state):  # splitmix64; returns (new state, 64 random bits)
    state = state + np.uint64(0x9E3779B97F4A7C15)
    z = state
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return state, z ^ (z >> np.uint64(31))


@numba.njit(cache=True, nogil=True)
def _below(z, n):  # an integer in [0, n) from 64 random bits (multiply-shift; n < 2**32)
    return np.int64(((z >> np.uint64(32)) * np.uint64(n)) >> np.uint64(32))


@numba.njit(cache=True, nogil=True)
def mono_shuffle(codes, seeds, out):  # pragma: no cover - compiled
    """Fisher-Yates shuffle of each row of `codes` into `out` (keeps base counts), row `r` seeded by
    ``seeds[r]``.

    Parameters
    ----------
    codes
        uint8 (N, L) base codes (0-3 = A, C, G, T; 4 = N).
    seeds
        uint64 (N,) per-row seeds.
    out
        uint8 (N, L) output, filled in place.
    """
    n, L = codes.shape
    for r in range(n):
        st = seeds[r]
        o = out[r]
        for j in range(L):
            o[j] = codes[r, j]
        for j in range(L - 1, 0, -1):
            st, z = _next(st)
            k = _below(z, j + 1)
            t = o[j]
            o[j] = o[k]
            o[k] = t


@numba.njit(cache=True, nogil=True)
def dinuc_shuffle(codes, seeds, out):  # pragma: no cover - compiled
    """Exact dinucleotide shuffle of each row of `codes` into `out`, row `r` seeded by ``seeds[r]``.

    Altschul & Erickson (1985) / uShuffle (Jiang et al. 2008): the sequence is an Eulerian path in the
    multigraph of its dinucleotides. Pick each vertex's last exit edge at random until those edges form
    a tree towards the last character, order the remaining exit edges at random, and walk.

    Why this kernel is one function of more than 80 lines: it is the inner loop of the dinucleotide
    strategy (millions of rows). Its scratch arrays (counts, offsets, successor lists, last exits) are
    allocated once for all rows and reused; split into jitted steps they would have to be passed through
    every call or reallocated per row, and the steps share the row's random stream, whose exact order of
    draws keeps datasets built with the same seed byte-identical.

    Parameters as `mono_shuffle`.
    """
    n, L = codes.shape
    K = 5
    cnt = np.zeros(K, np.int64)
    off = np.zeros(K + 1, np.int64)
    fill = np.zeros(K, np.int64)
    lastk = np.zeros(K, np.int64)
    succ = np.zeros(max(L, 1), np.uint8)
    state = np.zeros(K, np.int64)
    for r in range(n):
        seq = codes[r]
        o = out[r]
        if L < 3:
            for j in range(L):
                o[j] = seq[j]
            continue
        st = seeds[r]
        for c in range(K):
            cnt[c] = 0
            fill[c] = 0
        for j in range(L - 1):
            cnt[seq[j]] += 1
        off[0] = 0
        for c in range(K):
            off[c + 1] = off[c] + cnt[c]
        for j in range(L - 1):
            c = seq[j]
            succ[off[c] + fill[c]] = seq[j + 1]
            fill[c] += 1
        last = seq[L - 1]
        # random arborescence of last-exit edges (rejection; a handful of tries for DNA)
        while True:
            for c in range(K):
                if c != last and cnt[c] > 0:
                    st, z = _next(st)
                    lastk[c] = _below(z, cnt[c])
            ok = True
            for c in range(K):  # state: 0 unknown, 1 on current path, 2 reaches `last`
                state[c] = 0
            state[last] = 2
            for c in range(K):
                if cnt[c] == 0 or state[c] == 2:
                    continue
                v = c
                while state[v] == 0:
                    state[v] = 1
                    v = succ[off[v] + lastk[v]]
                if state[v] == 1:  # came back onto this path: a cycle
                    ok = False
                    break
                v = c
                while state[v] == 1:
                    state[v] = 2
                    v = succ[off[v] + lastk[v]]
            if ok:
                break
        for c in range(K):
            m = cnt[c]
            if m == 0:
                continue
            a = off[c]
            if c != last:  # move the chosen last edge to the end, shuffle the rest
                t = succ[a + lastk[c]]
                succ[a + lastk[c]] = succ[a + m - 1]
                succ[a + m - 1] = t
                m -= 1
            for j in range(m - 1, 0, -1):
                st, z = _next(st)
                k = _below(z, j + 1)
                t = succ[a + j]
                succ[a + j] = succ[a + k]
                succ[a + k] = t
            fill[c] = 0
        cur = seq[0]
        o[0] = cur
        for j in range(1, L):
            nxt = succ[off[cur] + fill[cur]]
            fill[cur] += 1
            o[j] = nxt
            cur = nxt


@numba.njit(cache=True, nogil=True)
def composition(seq, mask, has_mask, rows, starts, L, out):  # pragma: no cover - compiled
    """G+C, N and soft-masked (repeat) base counts of windows of one chromosome.

    Parameters
    ----------
    seq
        uint8 base codes of the chromosome (1, 2 = C, G; 4 = N).
    mask
        uint8 bit-packed repeat mask (most significant bit first).
    has_mask
        Count repeats from `mask` (False: repeat counts stay 0).
    rows
        Which rows of `starts`/`out` to fill.
    starts
        0-based window starts.
    L
        Window length.
    out
        int (N, 3) output; ``out[r] = (G+C, N, repeat)`` for each ``r`` in `rows`, filled in place.
    """
    # out[r] = (G+C, N, repeat) counts of seq[starts[r] : starts[r] + L]
    for k in range(rows.shape[0]):
        r = rows[k]
        s = starts[r]
        gc = 0
        nn = 0
        for p in range(s, s + L):
            c = seq[p]
            gc += (c == 1) | (c == 2)
            nn += c == 4
        rep = 0
        if has_mask:
            p = s
            e = s + L
            while p < e and (p & 7) != 0:
                rep += (mask[p >> 3] >> (7 - (p & 7))) & 1
                p += 1
            while p + 8 <= e:
                b = mask[p >> 3]
                b = (b & 0x55) + ((b >> 1) & 0x55)
                b = (b & 0x33) + ((b >> 2) & 0x33)
                rep += (b & 0x0F) + (b >> 4)
                p += 8
            while p < e:
                rep += (mask[p >> 3] >> (7 - (p & 7))) & 1
                p += 1
        out[r, 0] = gc
        out[r, 1] = nn
        out[r, 2] = rep
