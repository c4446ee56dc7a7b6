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

Two resize conventions are supported: "tf" reproduces TensorFlow's nearest resize with
align_corners=True (needed for official weights), "native" picks every second cell and max-pools
the mask so thin strokes are never taken for valid background.
"""

from __future__ import annotations

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
) -> AttentionOutput:
    """Fill foreground `f` with patches of background `b` (both [B, C, H, W], H and W even).

    `mask` is [B, 1, H, W] at the feature size, 1 = hole (per batch item; the official code used
    item 0 for the whole batch).
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
        queries = F.unfold(f_small, 3, padding=1)  # [B, C*9, Lq]
        scores = torch.bmm(keys.transpose(1, 2), queries)  # [B, Lk, Lq]
        del keys, queries
        if fuse:
            scores = fuse_scores(scores, (hq, wq))
        scores = scores * valid_keys
        probs = torch.softmax(scores * softmax_scale, dim=1) * valid_keys
        del scores

        raw = F.unfold(b, 2 * rate, stride=rate, padding=rate // 2)  # [B, C*16, Lk]
        pasted = torch.bmm(raw, probs)  # [B, C*16, Lq]
        y = F.fold(pasted, (h, w), 2 * rate, stride=rate, padding=rate // 2) / 4.0

        offsets = out_scores = None
        if return_scores:
            best = probs.argmax(dim=1).view(bsz, hq, wq)
            rows = torch.arange(hq, device=f.device).view(1, hq, 1)
            cols = torch.arange(wq, device=f.device).view(1, 1, wq)
            offsets = torch.stack([best // wq - rows, best % wq - cols], dim=1)
            out_scores = probs.view(bsz, length, hq, wq)
        return AttentionOutput(y, out_scores, offsets)
