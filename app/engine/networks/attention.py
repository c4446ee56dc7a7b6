"""Contextual attention (Yu et al. 2018), exactly as the official DeepFill layer computes it.

Written as batched matrix products instead of per-image convolutions:

* scores  S[k, q] = <normalised 3x3 key patch k, raw 3x3 query patch q>   (a conv2d in the original)
* fuse:   the original convolves the L x L score map with a 3x3 identity kernel, once in row-major
          and once in column-major cell order.  An identity kernel only adds the two diagonal
          neighbours, so each pass is two shifted in-place adds over the map: O(L^2) memory traffic
          instead of a 9-tap convolution with transposes (which made a straightforward port ~3x slower).
* softmax over keys with the hole-free-key mask (masked logits are 0, not -inf, as in the original)
* paste:  4x4 raw patches at stride 2 weighted by the scores, overlap-added and divided by 4
          (conv2d_transpose in the original; here a matmul followed by F.fold).

With `queries` (the cells near the hole), only those query cells are scored: the generator's
layers after the attention see about 7 feature pixels around each output pixel, so hole pixels
depend only on cells within a few cells of the hole, and their outputs are the dense layer's.
This makes the layer linear instead of quadratic in the photo's area for a given hole
(`_sparse_probs`): a native run of a 1024 px photo went from 28 s and 6 GB to a few seconds.

Two resize conventions are supported: "tf" reproduces TensorFlow's nearest resize with
align_corners=True (needed for official weights), "native" picks every second cell and max-pools
the mask so thin strokes are never taken for valid background.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

SOFTMAX_SCALE = 10.0


def tf_nearest_indices(size_in: int, size_out: int) -> torch.Tensor:
    """Source indices of TensorFlow's resize_nearest_neighbor(align_corners=True)."""
    if size_out <= 1:
        return torch.zeros(max(size_out, 0), dtype=torch.long)
    scale = np.float32(size_in - 1) / np.float32(size_out - 1)
    pos = np.arange(size_out, dtype=np.float32) * np.float32(scale)
    idx = np.floor(pos.astype(np.float64) + 0.5).astype(np.int64)  # roundf: half away from zero
    return torch.from_numpy(np.minimum(idx, size_in - 1))


def tf_resize_nearest(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Nearest resize with TensorFlow's align_corners=True index rule."""
    rows = tf_nearest_indices(x.shape[-2], size[0]).to(x.device)
    cols = tf_nearest_indices(x.shape[-1], size[1]).to(x.device)
    return x.index_select(-2, rows).index_select(-1, cols)


def _row_major_pass(s: torch.Tensor) -> torch.Tensor:
    """s[k, q] + s[k-1, q-1] + s[k+1, q+1] over [B, L, L] (zero outside): the 3x3
    identity-kernel convolution of the flattened score map."""
    out = s.clone()
    out[:, 1:, 1:] += s[:, :-1, :-1]
    out[:, :-1, :-1] += s[:, 1:, 1:]
    return out


def _column_major_pass(t: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """The same pass with both indices in column-major cell order, without transposing the map.

    In the [B, Hk, Wk, Hq, Wq] view, the column-major successor of cell (y, x) is (y + 1, x), or
    (0, x + 1) at the bottom row; each combination of "wraps / does not wrap" for the key and the
    query index is one slice-add.
    """
    b = t.shape[0]
    h, w = grid
    t4 = t.view(b, h, w, h, w)
    out = t.clone()
    o4 = out.view(b, h, w, h, w)
    # successor (+1) for keys and queries
    o4[:, :-1, :, :-1, :] += t4[:, 1:, :, 1:, :]
    o4[:, -1, :-1, :-1, :] += t4[:, 0, 1:, 1:, :]
    o4[:, :-1, :, -1, :-1] += t4[:, 1:, :, 0, 1:]
    o4[:, -1, :-1, -1, :-1] += t4[:, 0, 1:, 0, 1:]
    # predecessor (-1)
    o4[:, 1:, :, 1:, :] += t4[:, :-1, :, :-1, :]
    o4[:, 0, 1:, 1:, :] += t4[:, -1, :-1, :-1, :]
    o4[:, 1:, :, 0, 1:] += t4[:, :-1, :, -1, :-1]
    o4[:, 0, 1:, 0, 1:] += t4[:, -1, :-1, -1, :-1]
    return out


def fuse_scores(scores: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """Attention propagation of the official layer on scores [B, L, L] (keys x queries, row-major).

    The official code convolves the map with eye(3), transposes both cell orders to column-major,
    convolves again and transposes back; the identity kernel only adds diagonal neighbours, so
    the two passes are a handful of shifted adds (the pass commutes with swapping keys and
    queries, so our keys-first layout needs no transpose either).
    """
    return _column_major_pass(_row_major_pass(scores), grid)


@dataclass
class AttentionOutput:
    features: torch.Tensor  # [B, C, H, W], same shape as the layer input
    scores: torch.Tensor | None  # [B, Lk, Hq, Wq] post-softmax weights, or None
    offsets: torch.Tensor | None  # [B, 2, Hq, Wq] best key cell minus query cell (rows, cols)


def downscale_mask(mask: torch.Tensor, feature_size: tuple[int, int], resize: str) -> torch.Tensor:
    """The generator's mask at the attention feature size (1/4 of the image)."""
    if resize == "tf":
        return tf_resize_nearest(mask, feature_size)
    factor = mask.shape[-2] // feature_size[0]
    return F.max_pool2d(mask, factor, factor) if factor > 1 else mask


def contextual_attention(
    f: torch.Tensor,
    b: torch.Tensor,
    mask: torch.Tensor | None,
    *,
    rate: int = 2,
    fuse: bool = True,
    resize: str = "tf",
    softmax_scale: float = SOFTMAX_SCALE,
    return_scores: bool = False,
    queries: torch.Tensor | None = None,
) -> AttentionOutput:
    """Fill foreground `f` with patches of background `b` (both [B, C, H, W], H and W even).

    `mask` is [B, 1, H, W] at the feature size, 1 = hole (per batch item; the official code used
    item 0 for the whole batch). `queries` ([B, H/rate, W/rate] bool) limits the output to those
    cells (the rest of the output is zero); the scores then hold zeros for the other cells.
    """
    with torch.autocast(device_type=f.device.type, enabled=False):
        f, b = f.float(), b.float()
        bsz, ch, h, w = b.shape
        hq, wq = h // rate, w // rate
        if resize == "tf":
            f_small = tf_resize_nearest(f, (hq, wq))
            b_small = tf_resize_nearest(b, (hq, wq))
        else:
            f_small, b_small = f[..., ::rate, ::rate], b[..., ::rate, ::rate]
        length = hq * wq

        # Key validity: the 3x3 window around a key cell holds no hole pixel.
        if mask is None:
            valid = torch.ones(bsz, 1, length, device=f.device)
        else:
            mask = mask.float()
            if resize == "tf":
                m_small = tf_resize_nearest(mask, (hq, wq))
            else:
                m_small = F.max_pool2d(mask, rate, rate)
            hole_near = F.max_pool2d(m_small, 3, 1, 1)
            valid = (hole_near == 0).float().view(bsz, 1, length)
        valid_keys = valid.transpose(1, 2)  # [B, Lk, 1]

        keys = F.unfold(b_small, 3, padding=1)  # [B, C*9, Lk]
        keys = keys / keys.norm(dim=1, keepdim=True).clamp_min(1e-4)
        all_queries = F.unfold(f_small, 3, padding=1)  # [B, C*9, Lq]
        raw = F.unfold(b, 2 * rate, stride=rate, padding=rate // 2)  # [B, C*16, Lk]
        probs: torch.Tensor | None
        if queries is None:
            scores = torch.bmm(keys.transpose(1, 2), all_queries)  # [B, Lk, Lq]
            del keys, all_queries
            if fuse:
                scores = fuse_scores(scores, (hq, wq))
            probs = _masked_softmax(scores, valid_keys, softmax_scale)
            del scores
            pasted = torch.bmm(raw, probs)  # [B, C*16, Lq]
            best = probs.argmax(dim=1)
        else:
            pasted = raw.new_zeros(bsz, raw.shape[1], length)
            best = torch.zeros(bsz, length, dtype=torch.long, device=f.device)
            probs = raw.new_zeros(bsz, length, length) if return_scores else None
            for i in range(bsz):
                cells = queries[i].reshape(-1).nonzero().flatten()
                for chunk in cells.split(QUERY_CHUNK):
                    p = _sparse_probs(
                        keys[i], all_queries[i], chunk, valid_keys[i], (hq, wq), fuse, softmax_scale
                    )
                    pasted[i][:, chunk] = raw[i] @ p.t()
                    best[i][chunk] = p.argmax(dim=1)
                    if probs is not None:
                        probs[i][:, chunk] = p.t()
        y = F.fold(pasted, (h, w), 2 * rate, stride=rate, padding=rate // 2) / 4.0

        rows = torch.arange(hq, device=f.device).view(1, hq, 1)
        cols = torch.arange(wq, device=f.device).view(1, 1, wq)
        best = best.view(bsz, hq, wq)
        offsets = torch.stack([best // wq - rows, best % wq - cols], dim=1)
        out_scores = probs.view(bsz, length, hq, wq) if return_scores and probs is not None else None
        return AttentionOutput(y, out_scores, offsets)


QUERY_CHUNK = 1024  # query cells scored at once in the sparse path (bounds its memory)


def _masked_softmax(scores: torch.Tensor, valid_keys: torch.Tensor, scale: float) -> torch.Tensor:
    """Softmax over keys (dim -2) with invalid keys' logits 0, as in the original, then zeroed."""
    scores = scores * valid_keys
    return torch.softmax(scores * scale, dim=-2) * valid_keys


def _sparse_probs(
    keys: torch.Tensor,
    queries: torch.Tensor,
    cells: torch.Tensor,
    valid_keys: torch.Tensor,
    grid: tuple[int, int],
    fuse: bool,
    scale: float,
) -> torch.Tensor:
    """Post-softmax weights [len(cells), Lk] of the given query cells, equal to the dense layer's.

    Laid out queries x keys so that the softmax and the key shifts run along contiguous rows.
    The fuse passes add, for a query q and key k, the scores of (k', q') where both moved by the
    same row-major step and then the same column-major step; so the raw scores of q's step
    neighbours are computed too, and each step on the key axis is a slice-add.
    """
    h, w = grid
    length = keys.shape[1]
    weight = (valid_keys.view(1, length) * scale).to(keys.dtype)
    if not fuse:
        scores = queries[:, cells].t() @ keys
        return torch.softmax(scores.mul_(weight), dim=1).mul_(valid_keys.view(1, length))
    idx = torch.arange(length, device=keys.device)
    y, x = idx // w, idx % w
    none = torch.full_like(idx, -1)
    rm_prev = torch.where(idx > 0, idx - 1, none)
    rm_next = torch.where(idx < length - 1, idx + 1, none)
    cm_next = torch.where(y < h - 1, idx + w, torch.where(x < w - 1, x + 1, none))
    cm_prev = torch.where(y > 0, idx - w, torch.where(x > 0, (h - 1) * w + x - 1, none))

    def rows_of(table: torch.Tensor, have: torch.Tensor) -> Callable[[torch.Tensor], torch.Tensor]:
        """Lookup of `table`'s rows (one per cell in `have`) by cell; -1 reads a zero row."""
        pos = torch.full((length + 1,), table.shape[0], dtype=torch.long, device=keys.device)
        pos[have] = torch.arange(have.numel(), device=keys.device)
        padded = torch.cat([table, table.new_zeros(1, length)])
        return lambda want: padded[pos[want]]  # want == -1 reads pos[-1] = the zero row

    def around(c: torch.Tensor, prev: torch.Tensor, nxt: torch.Tensor) -> torch.Tensor:
        near = torch.cat([c, prev[c], nxt[c]])
        return torch.unique(near[near >= 0])

    mid = around(cells, cm_prev, cm_next)  # query cells of the row pass's output we need
    need = around(mid, rm_prev, rm_next)  # query cells of the raw scores
    raw = rows_of(queries[:, need].t() @ keys, need)  # [len(need), Lk] by cell
    # row pass: + s[q-1, k-1] + s[q+1, k+1]
    row = raw(mid)
    row[:, 1:] += raw(rm_prev[mid])[:, :-1]
    row[:, :-1] += raw(rm_next[mid])[:, 1:]
    del raw
    # column pass: + t[cm_prev q, cm_prev k] + t[cm_next q, cm_next k]
    fused = rows_of(row, mid)
    out = fused(cells)
    prev = fused(cm_prev[cells])
    out[:, w:] += prev[:, :-w]  # key k - w
    out[:, 1:w] += prev[:, (h - 1) * w : h * w - 1]  # top-row key x: bottom of column x - 1
    nxt = fused(cm_next[cells])
    out[:, :-w] += nxt[:, w:]
    out[:, (h - 1) * w : h * w - 1] += nxt[:, 1:w]  # bottom-row key x: top of column x + 1
    del prev, nxt, row, fused
    return torch.softmax(out.mul_(weight), dim=1).mul_(valid_keys.view(1, length))
