"""Contextual Residual Aggregation (CRA; Yi et al., CVPR 2020) driven by DeepFill's own attention.

The network fills a copy of the photo downscaled by an integer factor s (exact s x s box average of
the photo reflect-padded to whole cells, so the aspect ratio is kept and no pixel is resampled
twice). One attention cell is c = 8 s full-resolution pixels. For every cell that touches the hole:

    R        = I - B                  high frequencies of the photo, B = bilinear-up(box average)
    R_hat[q] = sum_k A'[q, k] R[k]    residual patches of the best hole-free keys
    O        = U + R_hat              U = bilinear-up(network output composited at low resolution)

A' is the network's attention restricted to keys whose footprint is free of the FULL-RESOLUTION
hole and lies inside the photo, renormalised, cut to the top-k keys, and sharpened where it is
diffuse (see `sharpen`). Two paste layouts (`docs/cra.md` section 2.3 step 7):

* "b" (default): 2c x 2c patches centred on the cells, weighted by a separable triangular window
  (50 % overlap, the weights of neighbouring cells sum to one), which leaves no seams at cell borders;
* "a": HiFill's non-overlapping c x c cells.

Memory stays bounded whatever the photo size: the photo stays uint8, query cells are processed one
grid row at a time with a rolling accumulator two cells high, key patches are converted to float
one at a time (plus a small cache) and accumulated for a batch of query cells (`batch_bytes`), and
nothing of size L x L at full resolution (nor a float copy of the whole photo) is ever built.

Only hole pixels are written, so everything outside the hole keeps its bytes; the blend feather
therefore lies inside the hole (see `cra_upscale`).
"""

from __future__ import annotations

import functools
import math
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..types import CancelFn, Cancelled

GRID = 8  # network pixels per attention cell
MIN_ROW_MASS = 1e-3  # a query whose valid keys hold less attention than this gets no residual
MIN_KEY_WEIGHT = 0.02  # keys with less of a query's weight change it < 2 %: dropped for speed
MIN_TOP_WEIGHT = 0.5  # diffuse attention is sharpened until the best key holds this share
DEFAULT_BATCH_BYTES = 8 << 20  # float patch buffer per batch of query cells
DEFAULT_CACHE_BYTES = 12 << 20  # float key patches kept per worker thread


@dataclass(frozen=True)
class CraGrid:
    """How a full-resolution image maps onto the network input and the attention grid."""

    height: int  # full-resolution image
    width: int
    scale: int  # s: network pixel = s x s photo pixels
    rows: int  # attention grid (gh, gw); the padded photo is (gh c) x (gw c)
    cols: int

    @property
    def cell(self) -> int:
        return GRID * self.scale

    @property
    def net_size(self) -> tuple[int, int]:
        return GRID * self.rows, GRID * self.cols


def plan_grid(height: int, width: int, working_size: int = 512, min_scale: int = 1) -> CraGrid:
    """Integer scale (at least `min_scale`) so the network's long side is at most about
    `working_size`; pad, never squash."""
    scale = max(min_scale, math.ceil(max(height, width) / max(working_size, GRID)))
    cell = GRID * scale
    return CraGrid(height, width, scale, -(-height // cell), -(-width // cell))


def reflect_index(count: int, size: int, start: int = 0) -> np.ndarray:
    """Source indices of positions start .. start+count-1 reflected (101 style) into [0, size)."""
    pos = np.arange(start, start + count)
    if size == 1:
        return np.zeros(count, np.int64)
    period = 2 * (size - 1)
    pos = np.mod(pos, period)
    return np.where(pos < size, pos, period - pos)


def downscale_image(image: np.ndarray, grid: CraGrid, band_rows: int = 32) -> np.ndarray:
    """Exact s x s box average of the photo reflect-padded to the grid -> float32 net_size x 3."""
    s = grid.scale
    nh, nw = grid.net_size
    out = np.empty((nh, nw, 3), np.float32)
    cols = reflect_index(nw * s, grid.width)
    pad_cols = nw * s != grid.width
    for r0 in range(0, nh, band_rows):
        r1 = min(r0 + band_rows, nh)
        y0, y1 = r0 * s, r1 * s
        band = image[y0:y1] if y1 <= grid.height else image[reflect_index(y1 - y0, grid.height, y0)]
        if pad_cols:
            band = band[:, cols]
        # Two integer sums (exact): s rows, then s columns.
        acc = band.reshape(r1 - r0, s, nw * s * 3).sum(axis=1, dtype=np.uint32)
        acc = acc.reshape(r1 - r0, nw, s, 3).sum(axis=2, dtype=np.uint32)
        out[r0:r1] = acc.astype(np.float32) / np.float32(s * s)
    return out


def downscale_mask(mask: np.ndarray, grid: CraGrid) -> np.ndarray:
    """s x s max-pool of a bool mask: any marked photo pixel marks the network pixel. Padding is
    unmarked (the network sees the reflected photo there as context)."""
    s = grid.scale
    nh, nw = grid.net_size
    out = np.zeros((nh, nw), bool)
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return out
    # Only the band of rows holding marked pixels is pooled.
    r0, r1 = rows[0] // s, rows[-1] // s + 1
    part = np.zeros(((r1 - r0) * s, nw * s), bool)
    src = mask[r0 * s : min(r1 * s, grid.height)]
    part[: src.shape[0], : grid.width] = src
    out[r0:r1] = part.reshape(r1 - r0, s, nw, s).any(axis=(1, 3))
    return out


class _Scratch:
    """Reusable float buffers. Fresh tensors of varying sizes for every row fragment the heap, and
    the process's resident memory then creeps up well beyond what is in use."""

    def __init__(self) -> None:
        self._buffers: dict[str, torch.Tensor] = {}

    def get(self, name: str, shape: tuple[int, ...]) -> torch.Tensor:
        size = math.prod(shape)
        buf = self._buffers.get(name)
        if buf is None or buf.numel() < size:
            buf = self._buffers[name] = torch.empty(size)
        return buf[:size].view(shape)


@functools.lru_cache(maxsize=16)
def _bilinear_matrix(size: int, scale: int) -> torch.Tensor:
    """[(size - 2) scale, size] weights of bilinear upsampling (half-pixel centres, as
    F.interpolate with align_corners=False) of a line of `size` samples, the outer one on each
    side being a halo whose output is dropped."""
    t = np.arange((size - 2) * scale) + scale  # output positions, halo included in the frame
    src = (t + 0.5) / scale - 0.5
    i0 = np.floor(src).astype(np.int64)
    frac = src - i0
    m = np.zeros((t.size, size))
    m[np.arange(t.size), i0] = 1.0 - frac
    m[np.arange(t.size), i0 + 1] += frac
    return torch.from_numpy(m.astype(np.float32))


def _upsample_patches(
    low: torch.Tensor, scale: int, scratch: _Scratch | None = None, tag: str = ""
) -> torch.Tensor:
    """[..., h+2, w+2] low-resolution patches with a one-pixel halo -> [..., h s, w s].

    Bilinear with half-pixel centres; thanks to the halo every output pixel equals upsampling the
    whole low-resolution image (a replicated halo reproduces the border clamp). Two small matrix
    products per channel, much faster on the CPU than a general interpolation kernel.
    """
    my = _bilinear_matrix(low.shape[-2], scale)
    mx = _bilinear_matrix(low.shape[-1], scale).T
    if scratch is None:
        return torch.matmul(torch.matmul(my, low), mx)
    lead = tuple(low.shape[:-2])
    half = scratch.get(tag + "rows", lead + (my.shape[0], low.shape[-1]))
    torch.matmul(my, low, out=half)
    full = scratch.get(tag + "cols", lead + (my.shape[0], mx.shape[1]))
    return torch.matmul(half, mx, out=full)


def upsample_region(
    low: np.ndarray,
    scale: int,
    ly0: int,
    ly1: int,
    lx0: int,
    lx1: int,
    scratch: _Scratch | None = None,
) -> torch.Tensor:
    """Bilinear upsampling of low[ly0:ly1, lx0:lx1] (H x W x 3) -> [3, h s, w s], exactly a crop
    of the whole upsampled image."""
    rows = np.clip(np.arange(ly0 - 1, ly1 + 1), 0, low.shape[0] - 1)
    cols = np.clip(np.arange(lx0 - 1, lx1 + 1), 0, low.shape[1] - 1)
    patch = torch.from_numpy(np.ascontiguousarray(low[rows][:, cols].transpose(2, 0, 1)))
    return _upsample_patches(patch, scale, scratch, "region")


def triangular_window(cell: int) -> np.ndarray:
    """Weights of a 2c-wide patch: (t + 1/2)/c rising, then falling; shifted copies sum to one."""
    t = np.arange(2 * cell, dtype=np.float32)
    return np.where(t < cell, (t + 0.5) / cell, (2 * cell - t - 0.5) / cell).astype(np.float32)


@dataclass(frozen=True)
class _Layout:
    """Paste geometry of one aggregation variant, in photo pixels."""

    patch: int  # side of a pasted patch
    offset: int  # how far a patch starts before its cell
    window: np.ndarray | None  # per-axis weights (None = all ones)

    @staticmethod
    def of(variant: str, cell: int) -> _Layout:
        if variant == "b":
            return _Layout(2 * cell, cell // 2, triangular_window(cell))
        if variant == "a":
            return _Layout(cell, 0, None)
        raise ValueError("variant must be 'a' or 'b'")


def _pool_cells(low_mask: np.ndarray, kernel: int, padding: int) -> np.ndarray:
    """Per attention cell: does a (kernel x kernel, stride 8) window of the network mask hold a hole?"""
    m = torch.from_numpy(low_mask).float()[None, None]
    return F.max_pool2d(m, kernel, GRID, padding)[0, 0].numpy() > 0


def _inside_photo(count: int, cell: int, offset: int, patch: int, size: int) -> np.ndarray:
    start = np.arange(count) * cell - offset
    return (start >= 0) & (start + patch <= size)


def query_and_key_cells(
    low_mask: np.ndarray, grid: CraGrid, variant: str = "b"
) -> tuple[np.ndarray, np.ndarray]:
    """(queries, valid_keys), both bool [gh, gw].

    Queries: cells whose pasted patch touches the hole. Valid keys: cells whose patch lies inside
    the photo (padding is fake context) and, widened by one network pixel (the blur B leaks the
    object's colours about s pixels), holds no hole pixel of the full-resolution mask.
    """
    lay = _Layout.of(variant, grid.cell)
    k_in = lay.patch // grid.scale
    pad_in = lay.offset // grid.scale
    queries = _pool_cells(low_mask, k_in, pad_in)
    hole_near = _pool_cells(low_mask, k_in + 2, pad_in + 1)
    inside = np.outer(
        _inside_photo(grid.rows, grid.cell, lay.offset, lay.patch, grid.height),
        _inside_photo(grid.cols, grid.cell, lay.offset, lay.patch, grid.width),
    )
    return queries, inside & ~hole_near


def sharpen(weights: torch.Tensor, min_top: float, max_power: float = 1e3) -> torch.Tensor:
    """Raise each row of sorted, positive weights to the smallest power >= 1 that gives the best
    key at least `min_top` of the row (a higher softmax temperature on the same scores).

    Averaging k unrelated residual patches divides their detail by about sqrt(k), so a diffuse
    attention row (a young or small model) would paste a blur; rows that are already peaky are
    left exactly as the network made them.
    """
    if min_top <= 0 or weights.shape[1] < 2:
        return weights
    logs = weights.clamp_min(1e-30).log()
    logs = logs - logs[:, :1]  # <= 0, the best key at 0
    limit = 1.0 / min_top

    def spread(power: torch.Tensor) -> torch.Tensor:  # 1 / (weight of the best key)
        return (logs * power).exp().sum(dim=1, keepdim=True)

    lo = torch.ones(weights.shape[0], 1)
    hi = torch.full_like(lo, max_power)
    for _ in range(40):  # bisection on log(power): monotone in the power
        mid = (lo * hi).sqrt()
        ok = spread(mid) <= limit
        hi = torch.where(ok, mid, hi)
        lo = torch.where(ok, lo, mid)
    power = torch.where(spread(torch.ones_like(lo)) <= limit, torch.ones_like(lo), hi)
    out = (logs * power).exp() * (weights > 0)
    return out / out.sum(dim=1, keepdim=True).clamp_min(1e-30)


def select_keys(
    attention: torch.Tensor,
    query_index: torch.Tensor,
    valid: torch.Tensor,
    topk: int,
    min_top: float = MIN_TOP_WEIGHT,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Renormalised (and, if diffuse, sharpened) top-k weights over valid keys for the given query
    cells.

    attention [Lk, Lq] (post-softmax, keys x queries), query_index [n] (flat cell numbers),
    valid [Lk] bool. Returns (keys [n, k] long, weights [n, k] float, rows summing to 1 or 0).
    """
    rows = attention[:, query_index].T.float() * valid.float()[None]  # [n, Lk]
    mass = rows.sum(dim=1, keepdim=True)
    k = rows.shape[1] if topk <= 0 else min(topk, rows.shape[1])
    weights, keys = rows.topk(k, dim=1) if k < rows.shape[1] else rows.sort(dim=1, descending=True)
    weights = weights / weights.sum(dim=1, keepdim=True).clamp_min(1e-12)
    weights = sharpen(weights, min_top)
    weights = torch.where(weights >= MIN_KEY_WEIGHT, weights, torch.zeros_like(weights))
    weights = weights / weights.sum(dim=1, keepdim=True).clamp_min(1e-12)
    weights = torch.where(mass >= MIN_ROW_MASS, weights, torch.zeros_like(weights))
    # Columns that are zero for every query are cut off (weights are sorted descending).
    used = int((weights > 0).sum(dim=1).max()) if weights.numel() else 0
    return keys[:, :used], weights[:, :used]


def default_feather(scale: int) -> int:
    """Inward feather in photo pixels for a given downscale factor (see `cra_upscale`)."""
    return scale // 4


class _Aggregator:
    """Windowed, aggregated residual patches for the query cells of one grid row.

    Key patches are read from the uint8 photo, converted to float once (a small per-worker cache
    keeps recent ones: diffuse attention reuses the same keys for many queries) and accumulated
    per query. Their blur B is aggregated at low resolution and upsampled once per query:
    bilinear upsampling is linear and the key patches sit on the same s-pixel phase, so
    sum_k w_k B_k = up(sum_k w_k low_k).
    """

    def __init__(
        self,
        image: torch.Tensor,
        low_in: np.ndarray,
        grid: CraGrid,
        layout: _Layout,
        batch_bytes: int,
        cache_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        self.image, self.grid, self.lay = image, grid, layout
        p, s = layout.patch, grid.scale
        ls = self.low_side = p // s + 2  # low-resolution patch with its one-pixel halo
        # The low-resolution patch under every key, [Lk, 3, ls, ls] (a few MB): the padding makes
        # key (ky, kx)'s patch start at (8 ky, 8 kx) and reproduces the border clamp.
        low = torch.from_numpy(np.ascontiguousarray(low_in.transpose(2, 0, 1)))[None]
        low = F.pad(low, (layout.offset // s + 1,) * 4, mode="replicate")
        cols = F.unfold(low, ls, stride=GRID)[0]  # [3 ls ls, Lk]
        self.low_keys = cols.T.reshape(-1, 3, ls, ls).contiguous()
        self.up = _bilinear_matrix(ls, s)  # [P, ls], the same for rows and columns
        self.window = None
        if layout.window is not None:
            self.window = torch.from_numpy(np.outer(layout.window, layout.window))[:, :, None]
        patch_bytes = p * p * 3 * 4
        self.batch = max(1, batch_bytes // patch_bytes)
        self.cache_patches = max(1, cache_bytes // patch_bytes)
        self.scratch = _Scratch()
        self.pool: ThreadPoolExecutor | None = None
        self.workers = 1
        self.caches: dict[int, OrderedDict[int, torch.Tensor]] = {}

    def row(self, keys: torch.Tensor, weights: torch.Tensor) -> Iterator[tuple[int, torch.Tensor]]:
        """keys/weights [n, k] (rows sorted by weight) -> (query number, windowed residual [P, P, 3])."""
        for start in range(0, keys.shape[0], self.batch):
            stop = min(start + self.batch, keys.shape[0])
            yield from enumerate(self._batch(keys[start:stop], weights[start:stop]), start)

    def _batch(self, keys: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
        p, n = self.lay.patch, keys.shape[0]
        out = self.scratch.get("sum", (n, p, p, 3))  # channels last, like the photo
        keys_l, weights_l = keys.tolist(), weights.tolist()
        pool = self.pool
        workers = 1 if pool is None else min(self.workers, n)
        if pool is None or workers == 1:
            self._accumulate(range(n), keys_l, weights_l, out, 0)
        else:  # torch releases the GIL: one single-threaded accumulation per core
            jobs = [
                pool.submit(self._accumulate, range(j, n, workers), keys_l, weights_l, out, j)
                for j in range(workers)
            ]
            for job in jobs:
                job.result()
        return out

    def _key_pixels(self, key: int, worker: int) -> torch.Tensor:
        """Float copy [P, P, 3] of a key's photo patch, from the worker's cache when recent."""
        cache = self.caches.setdefault(worker, OrderedDict())
        hit = cache.get(key)
        if hit is not None:
            cache.move_to_end(key)
            return hit
        c, o, p, gw = self.grid.cell, self.lay.offset, self.lay.patch, self.grid.cols
        buf = cache.popitem(last=False)[1] if len(cache) >= self.cache_patches else None
        if buf is None:
            buf = torch.empty(p, p, 3)
        ky, kx = divmod(key, gw)
        y, x = ky * c - o, kx * c - o
        buf.copy_(self.image[y : y + p, x : x + p])  # uint8 -> float, vectorised
        cache[key] = buf
        return buf

    def _accumulate(
        self,
        queries: range,
        keys: list[list[int]],
        weights: list[list[float]],
        out: torch.Tensor,
        worker: int,
    ) -> None:
        for i in queries:
            used = sum(1 for w in weights[i] if w > 0.0)  # weights are sorted
            target = out[i].zero_()
            for key, w in zip(keys[i][:used], weights[i][:used], strict=True):
                target.add_(self._key_pixels(key, worker), alpha=w)
            if used:
                used_weights = torch.tensor(weights[i][:used])
                low = torch.tensordot(used_weights, self.low_keys[keys[i][:used]], dims=1)  # [3, ls, ls]
                blur = torch.matmul(torch.matmul(self.up, low), self.up.T)  # [3, P, P]
                target.sub_(blur.permute(1, 2, 0))
                if self.window is not None:
                    target.mul_(self.window)


def _as_tensor(array: np.ndarray) -> torch.Tensor:
    """A tensor sharing the array's memory, also for read-only arrays (decoded images often are;
    nothing here writes to it, so torch's warning about that does not apply)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return torch.from_numpy(array)


@contextmanager
def _parallel_over_queries(agg: _Aggregator | None) -> Iterator[None]:
    """Run the many small tensor ops single-threaded, with one worker thread per core.

    Intra-op threading on ops this small mostly waits at barriers, and on a busy machine a
    barrier can stall for a whole scheduler slice; independent queries per thread scale instead.
    """
    threads = torch.get_num_threads()
    if agg is None or threads <= 1:
        yield
        return
    torch.set_num_threads(1)
    agg.pool, agg.workers = ThreadPoolExecutor(threads, thread_name_prefix="cra"), threads
    try:
        yield
    finally:
        agg.pool.shutdown()
        agg.pool, agg.workers = None, 1
        torch.set_num_threads(threads)


def _feather_alpha(
    hole: np.ndarray, feather: int, top_halo: int, left_halo: int, shape: tuple[int, int]
) -> np.ndarray:
    """Blend weight inside the hole: 1/2 at its edge rising to 1 at `feather` px in (0 outside)."""
    dist = cv2.distanceTransform(hole.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_5)
    dist = dist[top_halo : top_halo + shape[0], left_halo : left_halo + shape[1]]
    alpha = np.clip(0.5 + 0.5 * (dist - 1.0) / feather, 0.0, 1.0).astype(np.float32)
    alpha[dist == 0] = 0.0
    return alpha


def cra_upscale(
    image: np.ndarray,
    mask: np.ndarray,
    low_in: np.ndarray,
    low_out: np.ndarray,
    attention: torch.Tensor | None,
    grid: CraGrid,
    *,
    low_mask: np.ndarray | None = None,
    variant: str = "b",
    topk: int = 16,
    feather: float = -1.0,
    out: np.ndarray | None = None,
    batch_bytes: int = DEFAULT_BATCH_BYTES,
    cancel: CancelFn | None = None,
    progress: Callable[[float], None] | None = None,
) -> np.ndarray:
    """Fill the hole of the full-resolution `image` from a low-resolution network result.

    image H x W x 3 uint8, mask H x W bool (True = hole); low_in = `downscale_image(image)` (float);
    low_out = low_in with the network's fill pasted over the network hole; attention [Lk, gh, gw]
    post-softmax scores on this grid (None: plain upsampling, no residual). Writes the hole pixels
    of `out` (default: a copy of image) and returns it; every other pixel is left as it was.

    Feather (in photo pixels, < 0 = from the scale): lives INSIDE the hole only. The blend weight
    of the fill is 1/2 on the hole's edge pixels and reaches 1 `feather` pixels in; the rest of the
    weight is the original pixel. Pixels outside the hole are never touched (contract: byte for
    byte unchanged), and the ramp is kept short so little of a removed object can show through.
    """
    s, c = grid.scale, grid.cell
    h, w = grid.height, grid.width
    if image.shape[:2] != (h, w) or mask.shape != (h, w):
        raise ValueError("image and mask must match the grid")
    if out is None:
        out = image.copy()
    if low_mask is None:
        low_mask = downscale_mask(mask, grid)
    lay = _Layout.of(variant, c)
    image_t = _as_tensor(image)
    feather_px = default_feather(s) if feather < 0 else int(round(feather))

    hole_rows = np.flatnonzero(mask.any(axis=1))
    if hole_rows.size == 0:
        return out
    row_has_hole = np.zeros(h + 1, np.int64)
    row_has_hole[1:] = np.cumsum(mask.any(axis=1))

    queries, valid = query_and_key_cells(low_mask, grid, variant)
    use_residual = attention is not None and bool(valid.any())
    agg = None
    if use_residual:
        att = torch.as_tensor(attention).reshape(grid.rows * grid.cols, -1).float()
        if att.shape[1] != grid.rows * grid.cols:
            raise ValueError("attention grid does not match the CRA grid")
        valid_t = torch.from_numpy(valid.reshape(-1))
        agg = _Aggregator(image_t, low_in, grid, lay, batch_bytes)

    # Coverage of the paste windows per axis (1 in the interior, less at the padded grid's border).
    def coverage(count: int) -> np.ndarray:
        if lay.window is None:
            return np.ones(count * c, np.float32)
        cov = np.zeros(count * c + 2 * lay.offset, np.float32)
        for i in range(count):
            cov[i * c : i * c + lay.patch] += lay.window
        return cov[lay.offset : lay.offset + count * c]

    cov_y_t = torch.from_numpy(coverage(grid.rows))
    cov_x_t = torch.from_numpy(coverage(grid.cols))
    scratch = _Scratch()
    # The accumulator spans the query columns only: its column j is photo column j - offset + x_acc.
    qspan = np.flatnonzero(queries.any(axis=0))
    x_acc = int(qspan[0]) * c if qspan.size else 0
    acc_w = (int(qspan[-1]) * c + lay.patch - x_acc) if qspan.size else lay.patch
    p = lay.patch
    top = torch.zeros(c, acc_w, 3)  # photo rows [base, base + c) of the current grid row
    bottom = torch.zeros(c, acc_w, 3) if p > c else None  # [base + c, base + 2c)
    dirty = [acc_w, 0]  # accumulator columns written since the last reset

    def emit(base: int, band: torch.Tensor) -> None:
        """Final residual `band` for photo rows [base, base + c) -> blend the hole pixels there."""
        y0, y1 = max(base, 0), min(base + c, h)
        if y1 <= y0 or row_has_hole[y1] == row_has_hole[y0]:
            return
        cols = np.flatnonzero(mask[y0:y1].any(axis=0))
        x0, x1 = int(cols[0]) // s * s, min(-(-(int(cols[-1]) + 1) // s) * s, w)
        ly0, lx0 = y0 // s, x0 // s
        up = upsample_region(low_out, s, ly0, -(-y1 // s), lx0, -(-x1 // s), scratch)
        fill = up[:, y0 - ly0 * s : y1 - ly0 * s, x0 - lx0 * s : x1 - lx0 * s].permute(1, 2, 0)
        if use_residual:
            ax = x0 + lay.offset - x_acc
            res = band[y0 - base : y1 - base, ax : ax + x1 - x0]
            res.div_(cov_y_t[y0:y1, None, None]).div_(cov_x_t[None, x0:x1, None])  # then discarded
            fill.add_(res)
        fill.clamp_(0.0, 255.0)
        if feather_px > 0:
            hy0, hy1 = max(y0 - feather_px - 1, 0), min(y1 + feather_px + 1, h)
            hx0, hx1 = max(x0 - feather_px - 1, 0), min(x1 + feather_px + 1, w)
            alpha = _feather_alpha(
                mask[hy0:hy1, hx0:hx1], feather_px, y0 - hy0, x0 - hx0, (y1 - y0, x1 - x0)
            )
            original = image_t[y0:y1, x0:x1]
            fill.sub_(original).mul_(torch.from_numpy(alpha)[:, :, None]).add_(original)
        values = fill.round_().to(torch.uint8).numpy()
        np.copyto(out[y0:y1, x0:x1], values, where=mask[y0:y1, x0:x1, None])  # hole pixels only

    step = 0 if lay.window is None else 1  # variant b: rows of query row qr are final one row later
    total = grid.rows + step
    with _parallel_over_queries(agg):
        for qr in range(total):
            if cancel is not None and cancel():
                raise Cancelled()
            base = qr * c - lay.offset  # photo row of top[0]
            if (
                agg is not None  # made exactly when use_residual
                and qr < grid.rows
                and row_has_hole[min(base + lay.patch, h)] > row_has_hole[max(base, 0)]
            ):
                qcols = np.flatnonzero(queries[qr])
                if qcols.size:
                    qidx = torch.from_numpy(qr * grid.cols + qcols)
                    keys, weights = select_keys(att, qidx, valid_t, topk)
                    for i, patch in agg.row(keys, weights):
                        x = int(qcols[i]) * c - x_acc  # accumulator column of the patch start
                        top[:, x : x + p] += patch[:c]
                        if bottom is not None:
                            bottom[:, x : x + p] += patch[c:]
                        dirty[:] = min(dirty[0], x), max(dirty[1], x + p)
            emit(base, top)
            if dirty[0] < dirty[1]:
                top[:, dirty[0] : dirty[1]] = 0.0
            if bottom is not None:  # roll: the lower half becomes the next band
                top, bottom = bottom, top
            if progress is not None:
                progress((qr + 1) / total)
    return out
