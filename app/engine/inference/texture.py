"""The texture stage: real texture from the photo, at its full resolution, guided by the network.

The network decides *what* goes in the hole (colours, shapes, the user's sketch) but paints
almost no texture, and CRA's soft attention averages the texture it borrows away. This stage
copies texture from the photo itself through a dense nearest-neighbour field (NNF): every hole
pixel gets its value from one source location outside the hole (Wexler et al. 2007, with
PatchMatch search, Barnes et al. 2009), solved coarse to fine over an image pyramid:

* per hole region, a search window around it (nearby sources share its depth plane and light);
* at the coarsest level the NNF starts from the nearest valid source beyond the hole's edge
  (mirrored outward), jittered by the seed;
* at each level, PatchMatch (propagation + random search) and weighted voting alternate; the
  patch distance compares the current estimate with the source patch (known pixels at the hole's
  edge included, so the fill continues its surroundings seamlessly) plus a guide term: the
  low-pass of the photo with the network's fill in the hole, at the target vs. at the source, so
  texture may come from anywhere while the shapes stay where the network put them; with a
  sketch, an edge term matches the sketched line to the photo's own edges, and offsets never
  propagate across the line, so each side keeps its own side's texture;
* the NNF is upsampled to the next finer level (offsets doubled) and refined, up to full size;
* finally the fill's low frequencies are corrected to the network's (`lowfix_share`), which
  keeps its structure and colours exactly while the detail is the photo's own.

Only hole pixels are written; sources never lie in the hole nor touch it (the hole is grown by
the patch radius). Deterministic for a given seed. Choices and measurements: docs/texture.md.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

import cv2
import numpy as np

from ..geometry import Box, bbox, hole_regions
from ..types import CancelFn, check_cancel
from .lines import Line, carry_along, continued_lines, guide_along
from .sketched import Curve, sketch_guide, sketched_curves, straight_lines


@dataclass(frozen=True)
class TextureOptions:
    patch: int = 7  # patch side (odd) at the coarse levels
    fine_patch: int = 5  # patch side at levels whose hole has more than `fine_pixels` pixels
    fine_pixels: int = 30_000
    coarse_depth: float = 10.0  # the hole's depth (largest distance to its edge), coarsest level
    em_coarse: int = 4  # search + vote rounds at the coarsest level
    em_fine: int = 1  # ... at the finer levels
    pm_iterations: int = 2  # PatchMatch sweeps per round
    w_guide: float = 1.0  # weight of the network's low-pass (per patch pixel)
    guide_sigma: float = 2.0  # blur of the guide at every level (level px)
    w_edge: float = 2.0  # weight of the sketch/edge term (per patch pixel, on 0..255 edges)
    line_band: float = 6.0  # the edge term counts in the hole only this close to a sketched line
    vote_radius: int = 0  # voting neighbourhood inside the hole (0 = copy each pixel's source)
    edge_vote_radius: int = 2  # ... within `edge_band` px of the hole's edge (blends the seam)
    edge_band: float = 3.0
    margin: float = 0.5  # search window margin around a region, as a share of its long side
    min_margin: int = 48  # ... at least this many px
    # Correct the fill's low frequencies to the network's: blur sigma as a share of the region's
    # long side (0 = off), at least `lowfix_min` px; the colour (chroma) with a sigma
    # `lowfix_chroma` x wider, since colour copied from nearby is truer in the middle frequencies
    # than the network's (512 px sets: struct up on all three at the same swd; docs/texture.md).
    lowfix_share: float = 0.0135
    lowfix_min: float = 3.6
    lowfix_chroma: float = 2.2
    fine_radius: int = 8  # random-search radius at the finer levels (px of that level)
    copy_only_pixels: int = 1_000_000  # above this many hole pixels the finest level only copies
    # Guide channel of local detail: the photo's high-pass energy at a source, against at most
    # `detail_slack` x that at the hole's nearest known pixel (+1 grey level) at a target, times
    # `w_detail` (0 = off), at levels of up to `fine_pixels` hole pixels; so a sharp object beside
    # a blurred background (a wing against bokeh) does not lend its detail to the whole hole,
    # while textured surroundings keep theirs.
    w_detail: float = 4.0
    detail_slack: float = 2.0
    # Downscaled fills (no low-frequency correction): shift the fill's tone so it meets the photo
    # along the hole's edge, as a healing brush does (on native fills it cost struct).
    heal: bool = True
    # Straight lines that cross a region without a user's sketch there (a shore, a railing, a
    # wall's edge) are carried across it first, this many px either side (lines.py).
    continue_lines: bool = True
    line_width: float = 3.0
    # ... and within this many px of a carried line the guide is the photo carried along it too,
    # fading back to the network's fill over the outer quarter: a downscaled network smears a
    # thin line into a wide dark band, which the search would copy as a shadow (0 = off).
    line_guide: float = 64.0
    # Within this many px of a sketched line the guide is the photo's profile across the line
    # where it meets the hole's edge, carried along it (sketched.py; 0 = off). The pipeline
    # multiplies it by the photo's texture scale. 512 px sets, user-like strokes, hole PSNR:
    # +0.02 / +0.01 / +0.06 dB (the network's pre-fill carries the lines too); on full-size
    # photos, where the network ran downscaled, it is what continues a wall under a drawn lip.
    sketch_guide: float = 16.0
    textured_start: bool = True  # coarsest estimate = the mirrored sources, not the smooth guide
    threads: int = 2  # windows filled at once (each is one core's work)
    # A lone window splits levels with more hole pixels than this into `threads` bands of rows
    # solved at once (propagation stays within a band, so the bytes do not depend on timing).
    band_pixels: int = 200_000

    @classmethod
    def for_fill(cls, native: bool) -> TextureOptions:
        """Where the network ran at the photo's size its low frequencies are put back after the
        search, so the search leans less on the guide and more on texture (512 px set, bundled
        model: swd 1.52 -> 1.43 from w_guide 0.7 to 0.5, struct -0.04 dB); a downscaled fill is
        blurrier than the texture found, and correcting towards it made things worse
        (docs/texture.md)."""
        return cls(w_guide=0.5) if native else cls(lowfix_share=0.0)


ProgressFn = Callable[[float], None]


def synthesize(
    image: np.ndarray,
    mask: np.ndarray,
    guide: np.ndarray,
    sketch: np.ndarray | None = None,
    *,
    seed: int = 0,
    options: TextureOptions | None = None,
    cancel: CancelFn | None = None,
    progress: ProgressFn | None = None,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Texture for the hole of `image` (H x W x 3 uint8 RGB; its hole pixels are never read)
    guided by `guide` (the network's fill, same size; only its hole pixels and surroundings are
    read) and an optional bool sketch. Returns a copy of `image` whose hole pixels are filled.

    `out`: write the hole pixels into this array instead (equal to `image` outside the hole; it
    may be `guide` itself, since each window reads its guide before writing), saving a copy of
    the photo (100 MB at 8K)."""
    from . import patchmatch  # numba compiles (or loads from its cache) on first use

    opts = options or TextureOptions()
    if out is None:
        out = image.copy()
    windows = search_windows(mask, opts)
    total = sum((b[2] - b[0]) * (b[3] - b[1]) for b, _ in windows) or 1

    def fill(number: int) -> None:
        (x0, y0, x1, y1), region_mask = windows[number]
        ys, xs = slice(y0, y1), slice(x0, x1)
        filled = _synthesize_window(
            patchmatch,
            image[ys, xs],
            region_mask,
            mask[ys, xs],
            guide[ys, xs],
            None if sketch is None else sketch[ys, xs],
            seed * 7919 + number,  # per window: the result does not depend on the order
            opts,
            cancel,
            bands,
        )
        np.copyto(out[ys, xs], filled, where=region_mask[..., None])  # windows are disjoint

    # The kernels release the GIL: separate windows fill on separate cores, and a lone window's
    # large levels in bands (their count is fixed by the options, not by this machine's cores).
    bands = max(1, opts.threads) if len(windows) == 1 else 1
    workers = min(len(windows), os.cpu_count() or 1, opts.threads)
    done = 0
    with ThreadPoolExecutor(max_workers=max(workers, 1)) as pool:
        futures = {pool.submit(fill, n): n for n in range(len(windows))}
        for future in as_completed(futures):
            future.result()  # re-raises Cancelled or an error from the window
            x0, y0, x1, y1 = windows[futures[future]][0]
            done += (x1 - x0) * (y1 - y0)
            if progress is not None:
                progress(done / total)
    return out


def warm_up() -> None:
    """Load (or compile) the kernels now, on a tiny fill, so the first real fill does not wait."""
    image = np.full((24, 24, 3), 128, np.uint8)
    mask = np.zeros((24, 24), bool)
    mask[8:16, 8:16] = True
    synthesize(image, mask, image)


def search_windows(mask: np.ndarray, opts: TextureOptions) -> list[tuple[Box, np.ndarray]]:
    """Disjoint-work windows: each hole region (regions whose windows overlap merged) with a
    margin around it; returns (box, the region's own hole pixels within the box)."""
    h, w = mask.shape
    regions = hole_regions(mask)

    def grow(r: Box) -> Box:
        side = max(r[2] - r[0], r[3] - r[1])
        m = max(opts.min_margin, math.ceil(opts.margin * side))
        return max(r[0] - m, 0), max(r[1] - m, 0), min(r[2] + m, w), min(r[3] + m, h)

    boxes = [grow(r) for r in regions]
    merged = True
    while merged:
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                a, b = boxes[i], boxes[j]
                if a[0] < b[2] and b[0] < a[2] and a[1] < b[3] and b[1] < a[3]:
                    ra, rb = regions[i], regions.pop(j)
                    regions[i] = (
                        min(ra[0], rb[0]), min(ra[1], rb[1]), max(ra[2], rb[2]), max(ra[3], rb[3])
                    )  # fmt: skip
                    boxes.pop(j)
                    boxes[i] = grow(regions[i])
                    merged = True
                    break
            if merged:
                break
    result = []
    for r, b in zip(regions, boxes, strict=True):
        own = np.zeros((b[3] - b[1], b[2] - b[0]), bool)
        oy, ox = r[1] - b[1], r[0] - b[0]
        own[oy : oy + r[3] - r[1], ox : ox + r[2] - r[0]] = mask[r[1] : r[3], r[0] : r[2]]
        result.append((b, own))
    return result


# ------------------------------------------------------------------------------ one window


def _levels_for(region_mask: np.ndarray, opts: TextureOptions) -> int:
    """Pyramid depth: halve until the hole is about `coarse_depth` px deep (its largest distance
    to the known pixels), so a blob shrinks to a small disc while a thin stroke is not shrunk
    to nothing."""
    box = bbox(region_mask)
    if box is None:
        return 0
    x0, y0, x1, y1 = box
    part = np.pad(region_mask[y0:y1, x0:x1], 1).astype(np.uint8)
    depth = float(cv2.distanceTransform(part, cv2.DIST_L2, 3).max())
    return max(0, math.ceil(math.log2(max(depth, 1.0) / opts.coarse_depth)))


def _pool2(mask: np.ndarray) -> np.ndarray:
    """2 x 2 max-pool of a bool plane with even sides."""
    return mask[0::2, 0::2] | mask[1::2, 0::2] | mask[0::2, 1::2] | mask[1::2, 1::2]


def _any_valid(valid: np.ndarray) -> tuple[int, int]:
    """One valid source (the last resort for pixels with none near their upsampled source)."""
    flat = int(np.argmax(valid))
    return flat // valid.shape[1], flat % valid.shape[1]


def _downscale(image: np.ndarray) -> np.ndarray:
    """Exact 2 x 2 mean of a uint8 image with even sides."""
    h, w = image.shape[:2]
    return cv2.resize(image, (w // 2, h // 2), interpolation=cv2.INTER_AREA)


def _composite(image: np.ndarray, guide: np.ndarray, hole: np.ndarray) -> np.ndarray:
    out = image.copy()
    np.copyto(out, guide, where=hole[..., None])  # much faster than boolean indexing at 8K
    return out


def _synthesize_window(
    pm,
    image: np.ndarray,
    own: np.ndarray,
    hole: np.ndarray,
    guide: np.ndarray,
    sketch: np.ndarray | None,
    seed: int,
    opts: TextureOptions,
    cancel: CancelFn | None,
    bands: int = 1,
) -> np.ndarray:
    """Fill the pixels of `own` (one region's hole) in a window; `hole` marks every hole pixel
    of the window (none of them may be a source). Returns the window with `own` filled."""
    levels = _levels_for(own, opts)
    f = 2**levels
    h, w = hole.shape
    ph, pw = -(-h // f) * f, -(-w // f) * f
    pad = ((0, ph - h), (0, pw - w))
    # Padding (reflected photo, outside the window) is never a source nor a target.
    padded = ph != h or pw != w
    inside = np.pad(np.ones((h, w), bool), pad)
    comp = _composite(image, guide, hole)
    if padded:  # (a copy of a whole 8K photo costs 0.1 s: only when the sides need it)
        comp = np.pad(comp, pad + ((0, 0),), mode="reflect")
    photo = np.pad(image, pad + ((0, 0),), mode="reflect") if padded else image
    guided = None
    straight: list[Line] = []
    curves: list[Curve] = []
    line_guide = opts.line_guide
    if opts.continue_lines and (sketch is None or not (sketch & own).any()):
        # Where the user drew nothing, straight lines the hole cuts are carried across it first.
        straight = continued_lines(comp[:h, :w], hole, own)
    elif opts.sketch_guide > 0 and sketch is not None and (sketch & own).any():
        # A sketched line drawn straight from edge to edge is continued exactly, as a found one
        # is; beside any other the guide is the photo's profile across it, carried along it
        # from where it meets the hole's edge (sketched.py): the network follows a sketch weakly.
        straight, curves = straight_lines(sketched_curves(sketch & own), hole)
        line_guide = opts.sketch_guide
    if straight:
        # Carried lines stay as they are (neither targets nor sources: the search only sees them).
        carried = carry_along(comp[:h, :w], hole, own, straight, opts.line_width)
        own = own & ~carried
        if not own.any():
            return comp[:h, :w].copy()
        if line_guide > 0:
            guide_along(comp[:h, :w], hole, own, straight, carried, line_guide)
    if curves:
        guided = sketch_guide(comp[:h, :w], hole, own, curves, opts.sketch_guide)
    hole_p = np.pad(hole, pad)
    own_p = np.pad(own, pad)
    has_sketch = sketch is not None and bool((sketch & hole).any())
    lines_p = np.pad(sketch & hole, pad) if has_sketch else np.zeros((ph, pw), bool)

    pyramid = [(photo, comp, hole_p, own_p, inside, lines_p)]
    for _ in range(levels):
        p, c, hl, ow, ins, ln = pyramid[-1]
        pyramid.append(
            (_downscale(p), _downscale(c), _pool2(hl), _pool2(ow), _pool2(ins), _pool2(ln))
        )
    rng = np.random.default_rng(seed)

    coarse: tuple[np.ndarray, int, int, np.ndarray] | None = None  # index, oy, ox, nnf
    tgt = comp
    for level in range(levels, -1, -1):
        check_cancel(cancel)
        k = 2**level
        src, comp_l, hole_l, own_l, inside_l, lines_l = pyramid[level]
        # The hole's box (plus one pixel): the pixel index and distances are kept only there.
        ob = bbox(own_l)
        if ob is None:
            continue
        ox, oy = max(ob[0] - 1, 0), max(ob[1] - 1, 0)
        own_box = own_l[oy : ob[3] + 1, ox : ob[2] + 1]
        ys, xs = np.nonzero(own_box)
        index = np.full(own_box.shape, -1, np.int32)
        index[ys, xs] = np.arange(ys.size, dtype=np.int32)
        vrad = _vote_radii(own_box, ys, xs, opts)
        ys, xs = (ys + oy).astype(np.int32), (xs + ox).astype(np.int32)
        in_bands = _Bands(ys.size, bands if ys.size > opts.band_pixels else 1)
        r = (opts.patch if ys.size <= opts.fine_pixels else opts.fine_patch) // 2
        valid = _valid_sources(hole_l, inside_l, r)
        valid_u8 = valid.view(np.uint8)
        lines = lines_l if has_sketch else None
        edge, w_edge, label = _sketch_planes(src, hole_l, own_l, lines, opts)
        tgt = comp_l.copy()  # the network's fill is the first estimate at the coarsest level
        nnf = np.empty((ys.size, 2), np.int32)
        cost = np.zeros(ys.size, np.float32)
        copy_only = coarse is not None and level == 0 and ys.size > opts.copy_only_pixels
        # Huge holes: the field solved at half size, upsampled, already places coherent
        # full-resolution patches; searching here would cost seconds for little change.
        low = comp_l if copy_only else cv2.GaussianBlur(comp_l, (0, 0), opts.guide_sigma)
        if opts.w_detail > 0 and ys.size <= opts.fine_pixels:
            # Sources are chosen at the coarse levels; finer ones only refine locally, and the
            # plane would cost 0.6 s on an 8K hole for no visible change.
            detail = _detail_plane(src, hole_l, opts.w_detail, opts.detail_slack)
            if lines is not None:  # along a sketched line (the edge plane's band) any edge may come
                detail[hole_l & (edge != EDGE_ANY)] = 255
            low = np.dstack([low, detail])
        args = (r, opts.w_guide, w_edge)
        if coarse is None:
            if not valid.any():
                return _composite(image, guide, own)  # nowhere to copy from: keep the network's
            nnf[:] = _nearest_sources(valid, ys, xs, rng, jitter=2)
            radius, rounds = max(h, w) // k, opts.em_coarse
            if opts.textured_start:
                # Start from the mirrored texture, not the network's smooth fill: matching a
                # smooth estimate would favour the smoothest sources.
                in_bands(pm.refresh_costs, tgt, src, low, edge, ys, xs, nnf, cost, *args)
                sigma2 = _sigma2(cost)
                in_bands(pm.vote, tgt, src, ys, xs, index, oy, ox, label, nnf, cost, vrad, sigma2)
        else:
            if not valid.any():
                break  # the finer levels have no room for patches: keep what the coarser gave
            vy, vx = _any_valid(valid)
            c_index, c_oy, c_ox, c_nnf = coarse
            pm.upsample_nnf(ys, xs, c_index, c_oy, c_ox, c_nnf, valid_u8, nnf, vy, vx)
            # The upsampled field defines the first estimate at this resolution.
            if not copy_only:
                in_bands(pm.refresh_costs, tgt, src, low, edge, ys, xs, nnf, cost, *args)
            sigma2 = 0.0 if copy_only else _sigma2(cost)
            in_bands(pm.vote, tgt, src, ys, xs, index, oy, ox, label, nnf, cost, vrad, sigma2)
            radius, rounds = opts.fine_radius, 0 if copy_only else opts.em_fine
        for em in range(rounds):
            check_cancel(cancel)
            in_bands(
                pm.patchmatch, tgt, src, low, edge, ys, xs, index, oy, ox, label, valid_u8, nnf,
                cost, *args, opts.pm_iterations, radius, int(rng.integers(1 << 31)) + em,
                seeded=True,
            )  # fmt: skip
            sigma2 = _sigma2(cost)
            in_bands(pm.vote, tgt, src, ys, xs, index, oy, ox, label, nnf, cost, vrad, sigma2)
        coarse = (index, oy, ox, nnf)
    if tgt.shape[:2] != (ph, pw):  # stopped early: bring the estimate up to full size
        tgt = _composite(comp, cv2.resize(tgt, (pw, ph), interpolation=cv2.INTER_LINEAR), own_p)
    filled = tgt[:h, :w]
    # Also with a sketch (the network saw it too: 512 px set, user-like strokes, struct 21.71 ->
    # 22.29 dB), faded out along the line, where the search put the edge the user drew.
    # Both corrections fade in away from a sketched line, keeping the edge the search put there.
    line_dist = None
    if has_sketch:
        line_dist = cv2.distanceTransform((~(sketch & hole)).view(np.uint8), cv2.DIST_L2, 3)
    if opts.lowfix_share > 0:
        box = bbox(own)
        side = max(box[2] - box[0], box[3] - box[1]) if box else 1
        sigma = max(opts.lowfix_min, opts.lowfix_share * side)
        fade = None if line_dist is None else np.clip(line_dist / (2 * sigma + opts.line_band), 0, 1)
        _lowfix(filled, comp[:h, :w], own, sigma, fade, opts.lowfix_chroma)
    elif opts.heal:
        # Where the guide was carried from the photo along a sketched line its tone is the
        # photo's already; a shift measured at the hole's edge would tint the dark side of an
        # edge (grass against soil gave a dark wall a purple cast).
        band = opts.sketch_guide if guided is not None and guided.any() else 2 * opts.line_band
        fade = None if line_dist is None else np.clip(line_dist / band, 0, 1)
        _heal(filled, image, hole, own, fade)
    return filled


def _heal(
    filled: np.ndarray,
    photo: np.ndarray,
    hole: np.ndarray,
    own: np.ndarray,
    weight: np.ndarray | None = None,
) -> None:
    """Shift the fill's tone (in place, inside `own`) so it meets the photo along the hole's edge:
    the local mean difference along the edge, diffused inward (hole pixels of `photo` are never
    read). The difference is measured on a grid 1/j of the size and diffused on one 1/k of it
    (k, j grow with the hole's depth; at full size on an 8K hole this cost 1 s and 450 MB)."""
    box = bbox(own)
    if box is None:
        return
    H, W = own.shape
    # The hole's depth, on a copy of its box shrunk to ~256 px (a full 8K distance map: 0.6 s).
    q = max(1, max(box[2] - box[0], box[3] - box[1]) // 256)
    cut = own[box[1] : box[3], box[0] : box[2]].view(np.uint8)
    size = (max(1, cut.shape[1] // q), max(1, cut.shape[0] // q))
    small = cv2.resize(cut, size, interpolation=cv2.INTER_AREA) if q > 1 else cut
    framed = np.pad(small, 1)  # the box's border is the hole's edge
    depth = q * float(cv2.distanceTransform(framed, cv2.DIST_L2, 3).max())
    k = max(1, int(depth // 24))  # the diffusion grid: about 24 cells deep
    j = max(1, k // 2)  # the measuring grid: fine enough to see the step at the edge
    m = 2 * k + 8  # room for the band's means and one diffusion cell outside
    x0, y0 = max(box[0] - m, 0), max(box[1] - m, 0)
    x1, y1 = min(box[2] + m, W), min(box[3] + m, H)
    sub = own[y0:y1, x0:x1]
    hh, ww = sub.shape

    def grid(a: np.ndarray, f: int) -> np.ndarray:  # 1/f of `a`'s size, cell means
        size = (max(1, a.shape[1] // f), max(1, a.shape[0] // f))
        return cv2.resize(a, size, interpolation=cv2.INTER_AREA) if f > 1 else a

    # Shrunk as uint8 (full-size float copies of an 8K hole's box cost more than the rest).
    holes = hole[y0:y1, x0:x1]
    known = grid((~holes).view(np.uint8) * np.uint8(255), j).astype(np.float32) / 255.0
    if not known.any():
        return
    inside = grid(sub.view(np.uint8) * np.uint8(255), j).astype(np.float32) / 255.0
    # The photo with its hole pixels zeroed (never read); on a coarser grid, each cell's known mean.
    p = grid(np.where(holes[..., None], np.uint8(0), photo[y0:y1, x0:x1]), j).astype(np.float32)
    p /= np.maximum(known, 1e-3)[..., None] if j > 1 else 1.0
    f = grid(filled[y0:y1, x0:x1], j).astype(np.float32)

    def box7(a: np.ndarray) -> np.ndarray:  # box means: fast, and the band is narrow anyway
        return cv2.blur(a, (7, 7))

    near = _masked_mean(p, known, box7)  # the photo's local mean, from known pixels only
    mine = _masked_mean(f, inside, box7)  # the fill's, from hole pixels only
    core = inside > 0.5
    dist = cv2.distanceTransform(core.astype(np.uint8), cv2.DIST_L2, 3)
    # The edge band (at least one diffusion cell wide), where enough photo lies near to compare.
    ring = core & (dist <= max(2.0, 1.5 * k / j)) & (cv2.blur(known, (7, 7)) > 0.05)
    if not ring.any():
        return
    ringw = ring.astype(np.float32)
    diff = np.zeros_like(f)
    diff[ring] = (near - mine)[ring]
    diff = _masked_mean(diff, ringw, lambda a: cv2.blur(a, (9, 9))) * ringw[..., None]  # along it
    # Diffuse inward on the coarse grid (Telea from the band), then back to the measuring grid.
    r = k // j
    d_k = grid(diff, r) / np.maximum(grid(ringw, r), 1e-3)[..., None]
    inner = ((grid(inside, r) > 0) & (grid(ringw, r) <= 0)).astype(np.uint8)
    offset = np.empty_like(d_k)
    for c in range(3):
        offset[..., c] = cv2.inpaint(np.ascontiguousarray(d_k[..., c]), inner, 1, cv2.INPAINT_TELEA)
    if r > 1:
        offset = cv2.resize(offset, (f.shape[1], f.shape[0]), interpolation=cv2.INTER_LINEAR)
    offset = cv2.GaussianBlur(offset, (0, 0), 2.0)
    if weight is not None:
        offset *= grid(weight[y0:y1, x0:x1], j)[..., None]
    # Whole grey levels, added in int16 (the offset is smooth: rounding first shows no steps).
    step = np.rint(offset).astype(np.int16)
    if j > 1:
        step = cv2.resize(step, (ww, hh), interpolation=cv2.INTER_LINEAR)
    target = filled[y0:y1, x0:x1]  # a view: OpenCV writes the hole pixels in place, saturated
    cv2.add(target, step, dst=target, mask=sub.view(np.uint8), dtype=cv2.CV_8U)


class _Bands:
    """Runs a kernel over the hole pixels 0..n-1, either whole or in row bands on threads (the
    pixels are in row-major order); a seeded kernel's last argument (its seed) gets the band's
    number added, so each band draws its own random numbers."""

    def __init__(self, n: int, bands: int) -> None:
        self.cuts = [n * b // bands for b in range(bands + 1)]

    def __call__(self, kernel, *args, seeded: bool = False) -> None:
        ranges = list(zip(self.cuts[:-1], self.cuts[1:], strict=True))
        if len(ranges) == 1:
            kernel(*args, 0, self.cuts[-1])
            return

        def band(number: int) -> None:
            lo, hi = ranges[number]
            band_args = (*args[:-1], args[-1] + number) if seeded else args
            kernel(*band_args, lo, hi)

        with ThreadPoolExecutor(max_workers=len(ranges)) as pool:
            list(pool.map(band, range(len(ranges))))


def _vote_radii(
    own: np.ndarray, ys: np.ndarray, xs: np.ndarray, opts: TextureOptions
) -> np.ndarray:
    """Per hole pixel: blend more near the hole's edge, where a copied patch meets the photo."""
    vrad = np.full(ys.size, opts.vote_radius, np.int32)
    if opts.edge_vote_radius > opts.vote_radius and opts.edge_band > 0:
        dist = cv2.distanceTransform(own.astype(np.uint8), cv2.DIST_L2, 3)
        vrad[dist[ys, xs] <= opts.edge_band] = opts.edge_vote_radius
    return vrad


def _sigma2(cost: np.ndarray) -> float:
    """Voting weight scale: patches much worse than a typical match count little."""
    if cost.size == 0:
        return 1.0
    return float(max(np.percentile(cost, 75), 1.0))


def _valid_sources(hole: np.ndarray, inside: np.ndarray, r: int) -> np.ndarray:
    """Centres whose (2r+1)^2 patch lies inside the window and touches no hole pixel (a margin of
    one more pixel keeps sources off the hole's antialiased edge)."""
    k = 2 * r + 3
    kernel = np.ones((k, k), np.uint8)
    near_hole = cv2.dilate(hole.astype(np.uint8), kernel) > 0
    # Erode `inside` with the patch so whole patches lie inside the window (border_value=0).
    within = cv2.erode(
        inside.astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8),
        borderType=cv2.BORDER_CONSTANT, borderValue=0,
    ) > 0  # fmt: skip
    return np.ascontiguousarray(within & ~near_hole)


def _nearest_sources(
    valid: np.ndarray, ys: np.ndarray, xs: np.ndarray, rng: np.random.Generator, jitter: int
) -> np.ndarray:
    """For each hole pixel, the valid source mirrored across the nearest valid source (so the
    texture just beyond the edge continues inward), else that nearest source; jittered."""
    h, w = valid.shape
    _, labels = cv2.distanceTransformWithLabels(
        (~valid).astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    vy, vx = np.nonzero(valid)
    nearest = labels[ys, xs] - 1
    by, bx = vy[nearest], vx[nearest]
    my, mx = 2 * by - ys, 2 * bx - xs
    if jitter:
        my = my + rng.integers(-jitter, jitter + 1, ys.size)
        mx = mx + rng.integers(-jitter, jitter + 1, ys.size)
    ok = (my >= 0) & (my < h) & (mx >= 0) & (mx < w)
    ok[ok] = valid[my[ok], mx[ok]]
    sy, sx = np.where(ok, my, by), np.where(ok, mx, bx)
    return np.stack([sy, sx], axis=1).astype(np.int32)


EDGE_ANY = 255  # edge-plane value of a hole pixel whose edges do not matter (patchmatch.py)


def _sketch_planes(
    src: np.ndarray,
    hole: np.ndarray,
    own: np.ndarray,
    lines: np.ndarray | None,
    opts: TextureOptions,
) -> tuple[np.ndarray, float, np.ndarray]:
    """Edge plane (photo edges outside the hole, the sketch's lines at this level inside), its
    weight, and the sketch side of every pixel (propagation and voting stay on one side)."""
    h, w = hole.shape
    if lines is None:
        return np.zeros((1, 1), np.uint8), 0.0, np.zeros((h, w), np.int32)
    lines = lines & hole
    grey = cv2.cvtColor(src, cv2.COLOR_RGB2GRAY)
    edges = cv2.Canny(cv2.GaussianBlur(grey, (0, 0), 1.0), 40, 100) > 0
    marks = np.where(hole, lines, edges & ~hole).astype(np.uint8) * 255
    plane = np.minimum(cv2.GaussianBlur(marks, (0, 0), 1.0), EDGE_ANY - 1)
    # Away from the line the user said nothing about edges: there a hole pixel takes any source
    # (asking for "no edge" there would favour the smoothest sources: flat shadow instead of
    # soil or grass). Sources never read hole pixels, so the mark cannot reach a source.
    # (Distances and sides are found in the lines' and the region's boxes only: on an 8K
    # window the full-size maps cost 0.2 s and 60 MB a level for the same values.)
    near = np.zeros((h, w), bool)
    box = bbox(lines)
    if box is not None:
        m = int(math.ceil(opts.line_band)) + 2
        x0, y0 = max(box[0] - m, 0), max(box[1] - m, 0)
        x1, y1 = min(box[2] + m, w), min(box[3] + m, h)
        cut = (~lines[y0:y1, x0:x1]).astype(np.uint8)
        near[y0:y1, x0:x1] = cv2.distanceTransform(cut, cv2.DIST_L2, 3) <= opts.line_band
    plane[hole & ~near] = EDGE_ANY
    label = np.zeros((h, w), np.int32)
    box = bbox(own)
    if box is not None:
        x0, y0, x1, y1 = box
        free = (own[y0:y1, x0:x1] & ~lines[y0:y1, x0:x1]).astype(np.uint8)
        label[y0:y1, x0:x1] = cv2.connectedComponents(free, connectivity=4)[1]
    label[lines] = -1  # the line itself: its own side
    return np.ascontiguousarray(plane), opts.w_edge, label


def _lowfix(
    filled: np.ndarray,
    network: np.ndarray,
    own: np.ndarray,
    sigma: float,
    weight: np.ndarray | None = None,
    chroma: float = 1.0,
) -> None:
    """Replace the fill's frequencies below `sigma` by the network's, inside `own` (in place):
    brightness below `sigma`, colour below `chroma` x `sigma`; `weight` (0..1 per pixel,
    optional) scales the correction."""
    box = bbox(own)
    if box is None:
        return
    m = math.ceil(3 * sigma * max(chroma, 1.0))
    h, w = own.shape
    x0, y0 = max(box[0] - m, 0), max(box[1] - m, 0)
    x1, y1 = min(box[2] + m, w), min(box[3] + m, h)
    a = filled[y0:y1, x0:x1].astype(np.float32)
    b = network[y0:y1, x0:x1].astype(np.float32)
    # Normalised blur: the difference is zero outside the hole, and a plain blur would halve the
    # correction along the hole's edge; dividing by the blurred hole keeps it whole there.
    inside = own[y0:y1, x0:x1].astype(np.float32)

    def low(x: np.ndarray, s: float) -> np.ndarray:
        norm = np.maximum(_wide_blur(inside, s), 0.05)
        return _wide_blur(x, s) / (norm[..., None] if x.ndim == 3 else norm)

    diff = (b - a) * inside[..., None]
    if chroma == 1.0:
        change = low(diff, sigma)
    else:  # brightness (Rec. 601 luma) and the colour left over, each with its own sigma
        luma = diff @ np.array([0.299, 0.587, 0.114], np.float32)
        change = low(luma, sigma)[..., None] + low(diff - luma[..., None], chroma * sigma)
    if weight is not None:
        change *= weight[y0:y1, x0:x1, None]
    fixed = a + change
    sub = own[y0:y1, x0:x1]
    filled[y0:y1, x0:x1][sub] = np.clip(np.rint(fixed[sub]), 0, 255).astype(np.uint8)


def _detail_plane(src: np.ndarray, hole: np.ndarray, scale: float, slack: float) -> np.ndarray:
    """uint8 plane, times `scale`: the photo's local high-pass energy at known pixels (hole pixels
    are never read), and in the hole `slack` x the energy at the nearest known pixel, smoothed,
    plus one grey level (hole pixels are only ever targets, so they hold what a target allows)."""
    known = (~hole).astype(np.float32)
    if not known.any():
        return np.zeros(hole.shape, np.uint8)
    g = src.astype(np.float32).mean(axis=2) * known
    hp = (g - _masked_mean(g, known, lambda a: cv2.GaussianBlur(a, (0, 0), 1.0))) * known
    energy = np.sqrt(_masked_mean(hp * hp, known, lambda a: cv2.GaussianBlur(a, (0, 0), 2.0)))
    _, nearest = cv2.distanceTransformWithLabels(
        hole.astype(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    ky, kx = np.nonzero(known)
    ring = cv2.GaussianBlur(energy[ky, kx][np.maximum(nearest - 1, 0)], (0, 0), 2.0)
    energy = np.where(hole, slack * ring + 1.0, energy)
    return np.clip(energy * scale, 0, 255).astype(np.uint8)


def _masked_mean(
    x: np.ndarray, weight: np.ndarray, blur: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """`blur`-weighted local mean of `x` (H x W or H x W x C) over the pixels `weight` counts
    (H x W, 0..1): pixels of weight 0 are never read."""
    w = weight[..., None] if x.ndim == 3 else weight
    norm = np.maximum(blur(weight), 1e-3)
    return blur(x * w) / (norm[..., None] if x.ndim == 3 else norm)


def _wide_blur(image: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian blur; a wide one runs on a copy shrunk so sigma is about 4 px there (a 50 px
    blur of a whole 8K hole costs seconds at full size, and its result is smooth anyway)."""
    f = int(sigma // 4)
    if f < 2:
        return cv2.GaussianBlur(image, (0, 0), sigma)
    h, w = image.shape[:2]
    small = cv2.resize(image, (max(1, w // f), max(1, h // f)), interpolation=cv2.INTER_AREA)
    small = cv2.GaussianBlur(small, (0, 0), sigma / f)
    return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
