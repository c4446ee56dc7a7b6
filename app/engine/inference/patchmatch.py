"""PatchMatch kernels for the texture stage (Barnes et al. 2009), compiled with numba.

Everything works on one pyramid level of one search window:

* ``tgt``  H x W x 3 uint8: the current estimate (known pixels = the photo, hole = the synthesis);
* ``src``  H x W x 3 uint8: the photo (only valid source centres are ever read around);
* ``low``  H x W x 3 uint8: low-pass of the photo with the network's fill in the hole (the guide:
  the same array serves target and source, so a source's surroundings are compared with what the
  network put at the target); an optional 4th channel holds detail: the photo's local high-pass
  energy at sources, the most a target in the hole allows there, so only a source more detailed
  than that costs;
* ``edge`` H x W uint8 (optional): edge strength; in the hole it holds the user's sketch near the
  line and 255 (any edge will do) away from it, elsewhere the photo's own edges (at most 254), so
  a sketched line matches sources that hold an edge in the same place;
* ``ys, xs``: the hole pixels in row-major order, ``index`` H x W int32 maps a pixel to its
  position in that list (-1 outside the hole);
* ``nnf`` N x 2 int32 (source y, x of each hole pixel), ``cost`` N float32;
* ``valid`` H x W uint8: 1 where a patch centred there lies inside the window and touches no hole
  pixel (so no source ever reads the hole);
* ``label`` H x W int32: side of the sketch a hole pixel is on; offsets never propagate across it.

Sequential scan-line propagation is the fastest form on a CPU core; the early exit in the patch
distance makes most rejected candidates cost a handful of pixels.
"""

from __future__ import annotations

import numpy as np
from numba import njit

BIG = np.float32(3.0e38)


@njit(cache=True, nogil=True)
def patch_cost(tgt, src, low, edge, y, x, sy, sx, r, w_guide, w_edge, limit):
    """Distance between the target patch at (y, x) and the source patch at (sy, sx).

    Colour term over the whole patch (target pixels outside the window are skipped), guide term
    at the centre only, weighted by the patch area (the low-pass is smooth over a patch), edge term
    over the patch. Returns as soon as the sum exceeds `limit`."""
    h, w = tgt.shape[0], tgt.shape[1]
    total = 0.0
    area = (2 * r + 1) * (2 * r + 1)
    g = 0.0
    for c in range(low.shape[2]):
        d = float(low[y, x, c]) - float(low[sy, sx, c])
        if c == 3 and d > 0.0:
            d = 0.0  # detail plane: only a source more detailed than the target allows costs
        g += d * d
    total += w_guide * area * g
    if total > limit:
        return total
    for dy in range(-r, r + 1):
        ty = y + dy
        if ty < 0 or ty >= h:
            continue
        qy = sy + dy
        for dx in range(-r, r + 1):
            tx = x + dx
            if tx < 0 or tx >= w:
                continue
            qx = sx + dx
            s = 0.0
            for c in range(3):
                d = float(tgt[ty, tx, c]) - float(src[qy, qx, c])
                s += d * d
            total += s
            if w_edge > 0.0 and edge[ty, tx] != 255:
                e = float(edge[ty, tx]) - float(edge[qy, qx])
                total += w_edge * e * e
        if total > limit:
            return total
    return total


@njit(cache=True, nogil=True)
def refresh_costs(tgt, src, low, edge, ys, xs, nnf, cost, r, w_guide, w_edge, lo, hi):
    """Recompute the costs of hole pixels lo..hi-1 for their current sources (after the target
    changed)."""
    for i in range(lo, hi):
        cost[i] = patch_cost(
            tgt, src, low, edge, ys[i], xs[i], nnf[i, 0], nnf[i, 1], r, w_guide, w_edge, BIG
        )


@njit(cache=True, nogil=True)
def _xorshift(state):
    x = state[0]
    x ^= (x << np.uint64(13)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    x ^= x >> np.uint64(7)
    x ^= (x << np.uint64(17)) & np.uint64(0xFFFFFFFFFFFFFFFF)
    state[0] = x
    return x


@njit(cache=True, nogil=True)
def _rand_int(state, lo, hi):
    """Uniform integer in [lo, hi]."""
    span = hi - lo + 1
    return lo + np.int64(_xorshift(state) % np.uint64(span))


@njit(cache=True, nogil=True)
def patchmatch(
    tgt, src, low, edge, ys, xs, index, oy, ox, label, valid, nnf, cost,
    r, w_guide, w_edge, iterations, radius, seed, lo, hi,
):  # fmt: skip
    """Improve `nnf`/`cost` of hole pixels lo..hi-1 in place: alternating scan-line propagation
    and random search. Each pixel's cost for its current source is recomputed on the first sweep
    (the target changed since the last call), where the patch is in cache anyway. Propagation
    reads only pixels of the same range, so disjoint ranges can run at once, deterministically."""
    h, w = valid.shape[0], valid.shape[1]
    ih, iw = index.shape[0], index.shape[1]
    n = hi - lo
    state = np.empty(1, np.uint64)
    state[0] = np.uint64(seed) * np.uint64(2654435761) + np.uint64(88172645463325252)
    for it in range(iterations):
        forward = it % 2 == 0
        step = 1 if forward else -1
        start = lo if forward else hi - 1
        for k in range(n):
            i = start + k * step
            y, x = ys[i], xs[i]
            best_y, best_x = nnf[i, 0], nnf[i, 1]
            if it == 0:
                best = patch_cost(
                    tgt, src, low, edge, y, x, best_y, best_x, r, w_guide, w_edge, BIG
                )
            else:
                best = cost[i]
            lab = label[y, x]
            # Propagation: the neighbour's source, shifted by one pixel.
            for nb in range(2):
                ny = y - step if nb == 0 else y
                nx = x if nb == 0 else x - step
                if ny - oy < 0 or ny - oy >= ih or nx - ox < 0 or nx - ox >= iw:
                    continue
                j = index[ny - oy, nx - ox]
                if j < lo or j >= hi or label[ny, nx] != lab:
                    continue
                cy, cx = nnf[j, 0] + (y - ny), nnf[j, 1] + (x - nx)
                if cy < 0 or cy >= h or cx < 0 or cx >= w or valid[cy, cx] == 0:
                    continue
                if cy == best_y and cx == best_x:
                    continue
                c = patch_cost(tgt, src, low, edge, y, x, cy, cx, r, w_guide, w_edge, best)
                if c < best:
                    best_y, best_x, best = cy, cx, c
            # Random search in shrinking windows around the current best.
            rad = radius
            while rad >= 1:
                cy = _rand_int(state, max(best_y - rad, 0), min(best_y + rad, h - 1))
                cx = _rand_int(state, max(best_x - rad, 0), min(best_x + rad, w - 1))
                if valid[cy, cx] != 0:
                    c = patch_cost(tgt, src, low, edge, y, x, cy, cx, r, w_guide, w_edge, best)
                    if c < best:
                        best_y, best_x, best = cy, cx, c
                rad //= 2
            nnf[i, 0], nnf[i, 1], cost[i] = best_y, best_x, best


@njit(cache=True, nogil=True)
def vote(tgt, src, ys, xs, index, oy, ox, label, nnf, cost, vrad, sigma2, lo, hi):
    """New hole estimate: each pixel averages what the matched patches of its neighbours within
    its own radius `vrad[i]` (same sketch side) put on it, weighted by exp(-cost / sigma2);
    radius 0 copies the pixel's own source (sharpest), larger radii blend (seamless edges);
    sigma2 <= 0 weighs every patch alike. `index` covers the hole's box from (oy, ox). Writes
    pixels lo..hi-1 only and reads no estimate, so disjoint ranges can run at once."""
    h, w = tgt.shape[0], tgt.shape[1]
    ih, iw = index.shape[0], index.shape[1]
    out = np.empty((hi - lo, 3), np.float32)
    for i in range(lo, hi):
        o = i - lo
        y, x = ys[i], xs[i]
        vr = vrad[i]
        if vr == 0:
            sy, sx = nnf[i, 0], nnf[i, 1]
            out[o, 0], out[o, 1], out[o, 2] = src[sy, sx, 0], src[sy, sx, 1], src[sy, sx, 2]
            continue
        lab = label[y, x]
        acc0 = acc1 = acc2 = 0.0
        wsum = 0.0
        for dy in range(-vr, vr + 1):
            py = y + dy
            if py - oy < 0 or py - oy >= ih:
                continue
            for dx in range(-vr, vr + 1):
                px = x + dx
                if px - ox < 0 or px - ox >= iw:
                    continue
                j = index[py - oy, px - ox]
                if j < 0 or label[py, px] != lab:
                    continue
                qy, qx = nnf[j, 0] - dy, nnf[j, 1] - dx
                if qy < 0 or qy >= h or qx < 0 or qx >= w:
                    continue
                wt = (np.exp(-cost[j] / sigma2) if sigma2 > 0 else 1.0) + 1e-12
                acc0 += wt * src[qy, qx, 0]
                acc1 += wt * src[qy, qx, 1]
                acc2 += wt * src[qy, qx, 2]
                wsum += wt
        if wsum > 0:
            out[o, 0], out[o, 1], out[o, 2] = acc0 / wsum, acc1 / wsum, acc2 / wsum
        else:
            sy, sx = nnf[i, 0], nnf[i, 1]
            out[o, 0], out[o, 1], out[o, 2] = src[sy, sx, 0], src[sy, sx, 1], src[sy, sx, 2]
    for i in range(lo, hi):
        for c in range(3):
            v = out[i - lo, c] + 0.5
            tgt[ys[i], xs[i], c] = 255 if v >= 255 else (0 if v < 0 else np.uint8(v))


@njit(cache=True, nogil=True)
def upsample_nnf(ys, xs, coarse_index, coy, cox, coarse_nnf, valid, nnf, fallback_y, fallback_x):
    """Offsets of the level below (half size) -> this level: each pixel takes its parent's source,
    doubled, plus its own position within the parent. Where that is no valid source the nearest
    valid pixel within 8 px is taken, else (fallback_y, fallback_x); random search improves it."""
    h, w = valid.shape[0], valid.shape[1]
    ch, cw = coarse_index.shape[0], coarse_index.shape[1]
    for i in range(ys.shape[0]):
        y, x = ys[i], xs[i]
        py, px = y // 2, x // 2
        j = -1
        if 0 <= py - coy < ch and 0 <= px - cox < cw:
            j = coarse_index[py - coy, px - cox]
        cy, cx = fallback_y, fallback_x
        if j >= 0:
            cy = 2 * coarse_nnf[j, 0] + (y - 2 * py)
            cx = 2 * coarse_nnf[j, 1] + (x - 2 * px)
        cy, cx = min(max(cy, 0), h - 1), min(max(cx, 0), w - 1)
        if valid[cy, cx] == 0:
            found = False
            for rad in range(1, 9):
                for dy in range(-rad, rad + 1):
                    ty = cy + dy
                    if ty < 0 or ty >= h:
                        continue
                    step = 1 if abs(dy) == rad else 2 * rad
                    for dx in range(-rad, rad + 1, step):
                        tx = cx + dx
                        if 0 <= tx < w and valid[ty, tx] != 0:
                            cy, cx, found = ty, tx, True
                            break
                    if found:
                        break
                if found:
                    break
            if not found:
                cy, cx = fallback_y, fallback_x
        nnf[i, 0], nnf[i, 1] = cy, cx
