"""Straight lines that a hole cuts, carried across it before the texture search.

A horizon, a shore, a cable or the edge of a wall that runs behind the removed object must come
out of the fill where it went in. Where the network ran downscaled it blurs a thin line into a
grey band, and the texture search then filled that band with whatever matched its colour (the
sky). So, where the user drew no sketch in a hole region, every straight edge that meets the
region on one side and leaves it on the other, in step, is found and carried across:

* segments: OpenCV's line segment detector (LSD, von Gioi et al. 2012) on the photo around the
  hole with the network's smooth fill inside, cut where they come near the hole, so only the
  photo's own pixels say where a line runs;
* pairs: a segment ending near the hole on one side and one on the other side, both along the
  chord between their ends (within `max_angle`), each on the other's line (within
  `max_offset`), with the same side darker by a similar contrast and the same colours on each
  side; each segment joins at most one other, best pairs first;
* carrying: near each joined line the hole takes the photo carried along the line from both
  sides (`carry_along`); those pixels stay fixed, and the search fills the rest around them.

Measurements and what was tried first (the lines as a sketch, the guide alone): docs/texture.md.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import cv2
import numpy as np

from ..geometry import bbox


@dataclass(frozen=True)
class LineOptions:
    min_length: float = 0.15  # a segment's least length: share of the hole region's long side
    min_px: float = 12.0  # ... and at least this many px
    near: float = 0.08  # its end lies this close to the hole: share of the long side (+ near_px)
    near_px: float = 4.0
    max_angle: float = 2.0  # degrees between each segment and the chord joining them
    max_offset: float = 1.5  # px (+ 1 % of the chord) from one segment's line to the other's end
    min_contrast: float = 12.0  # grey levels between the two sides of each segment
    contrast_ratio: float = 0.6  # the lower contrast is at least this share of the higher
    # RMS RGB difference of a side's colour between the two segments (a sky's gradient across a
    # large hole differs by ~30)
    max_colour: float = 40.0
    max_pixels: int = 800_000  # a larger detection window is shrunk to this many pixels


@dataclass
class _Piece:
    near: np.ndarray  # (x, y) of the end nearest the hole
    far: np.ndarray
    left: np.ndarray  # mean RGB beside the segment, left and right of near - far
    right: np.ndarray

    @property
    def direction(self) -> np.ndarray:  # unit vector from the far end towards the hole
        return _unit(self.near - self.far)


@dataclass(frozen=True)
class Line:
    start: tuple[float, float]  # (x, y) where it enters the hole region, and where it leaves
    end: tuple[float, float]


def continued_lines(
    composite: np.ndarray,
    hole: np.ndarray,
    own: np.ndarray,
    options: LineOptions | None = None,
) -> list[Line]:
    """The straight edges that cross `own` (one hole region), from where each meets it to where it
    leaves. `composite`: H x W x 3 uint8 RGB, the photo with a smooth fill (the network's) in the
    hole; `hole` marks every hole pixel (never read as a line's evidence)."""
    opts = options or LineOptions()
    box = bbox(own)
    if box is None:
        return []
    side = float(max(box[2] - box[0], box[3] - box[1]))
    h, w = own.shape
    scale = min(1.0, math.sqrt(opts.max_pixels / float(h * w)))
    if scale < 1.0:  # a huge window: lines are found on a shrunk copy (LSD costs ~0.1 s per MP)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        composite = cv2.resize(composite, size, interpolation=cv2.INTER_AREA)
        own = cv2.resize(own.view(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0
        hole = own | (cv2.resize(hole.view(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0)
        opts = replace(
            opts,
            min_px=max(6.0, opts.min_px * scale),
            near_px=max(2.0, opts.near_px * scale),
            max_offset=max(1.0, opts.max_offset * scale),
        )
    pieces = _pieces(composite, hole, own, side * scale, opts)

    def full(p: np.ndarray) -> tuple[float, float]:  # pixel centres map to pixel centres
        return ((p[0] + 0.5) / scale - 0.5, (p[1] + 0.5) / scale - 0.5)

    return [Line(full(a.near), full(b.near)) for a, b in _pairs(pieces, own, opts)]


def carry_along(
    image: np.ndarray, hole: np.ndarray, own: np.ndarray, lines: list[Line], width: float
) -> np.ndarray:
    """Set the pixels of `own` (in `hole`) within `width` px of each line (in place; further
    between close parallel lines) to the photo carried along the line's direction from both
    sides of the hole, the nearer side weighing more: a straight structure continues exactly as
    it is on either side. Returns the pixels set. Only pixels outside `hole` are read."""
    h, w = hole.shape
    done = np.zeros((h, w), bool)
    blocked = blocked_samples(hole)
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY).astype(np.float32)
    for line, reach in zip(lines, _reaches(lines, width), strict=True):
        p0, p1 = np.array(line.start), np.array(line.end)
        length = float(np.hypot(*(p1 - p0)))
        if length < 1.0:
            continue
        u = (p1 - p0) / length
        normal = np.array([-u[1], u[0]])
        # A wide dark (or light) stripe with the line as one border is carried whole: a band
        # ending inside it would leave a sliver of it beside the searched fill.
        below, above = _stripe_reaches(grey, blocked, p0, p1, width)
        below, above = max(below, reach), max(above, reach)
        b = int(math.ceil(max(below, above)))
        x0, x1 = int(max(min(p0[0], p1[0]) - b - 1, 0)), int(min(max(p0[0], p1[0]) + b + 2, w))
        y0, y1 = int(max(min(p0[1], p1[1]) - b - 1, 0)), int(min(max(p0[1], p1[1]) + b + 2, h))
        yy, xx = np.nonzero(own[y0:y1, x0:x1] & ~done[y0:y1, x0:x1])
        pts = np.stack([xx + x0, yy + y0], axis=1).astype(np.float64)
        rel = pts - p0
        along = rel @ u
        across = rel @ normal
        pts = pts[
            (across >= -below) & (across <= above) & (along >= -width) & (along <= length + width)
        ]
        if len(pts) == 0:
            continue
        total = np.zeros(len(pts))
        acc = np.zeros((len(pts), image.shape[2]))
        far = int(length + 2 * width) + 2
        for sign in (-1.0, 1.0):  # back past the start, on past the end
            start = _march_estimate(blocked, pts, sign * u, normal, far)
            value, dist = first_known(image, blocked, pts, sign * u, start, far)
            weight = np.where(dist > 0, 1.0 / np.maximum(dist, 1.0) ** 2, 0.0)
            acc += value * weight[:, None]
            total += weight
        ok = total > 0
        q = pts[ok].astype(int)
        carried = acc[ok] / total[ok][:, None]
        image[q[:, 1], q[:, 0]] = np.clip(np.rint(carried), 0, 255).astype(image.dtype)
        done[q[:, 1], q[:, 0]] = True
    return done


def guide_along(
    guide: np.ndarray,
    hole: np.ndarray,
    own: np.ndarray,
    lines: list[Line],
    carried: np.ndarray,
    reach: float,
) -> None:
    """Within `reach` px of the `carried` pixels, set the pixels of `own` in `guide` (the photo
    with the network's fill in the hole; in place) to the photo carried along the lines, fading
    back to the network's fill over the outer quarter. The search then takes the background's
    colour beside a line rather than the band the network blurred it into, while its texture
    still comes from the search."""
    dist = cv2.distanceTransform((~carried).view(np.uint8), cv2.DIST_L2, 3)
    zone = own & (dist <= reach)
    if not zone.any():
        return
    along = guide.copy()
    set_ = carry_along(along, hole, zone, lines, reach)
    weight = np.clip((reach - dist) / (reach / 4), 0.0, 1.0) * set_
    blend = guide * (1 - weight[..., None]) + along * weight[..., None]
    np.copyto(guide, np.rint(blend).astype(guide.dtype), where=set_[..., None])


def _reaches(lines: list[Line], width: float, group: float = 16.0) -> list[float]:
    """How far across each line to carry: `width`, or up to half way to a parallel joined line
    within `group` px (the borders of one cable, or of two cables side by side), so the strip
    between them is carried too rather than left to the search as a sliver."""
    ends = [(np.array(line.start), np.array(line.end)) for line in lines]
    units = [_unit(q - p) for p, q in ends]
    reaches = []
    for i, ((pa, _), ua) in enumerate(zip(ends, units, strict=True)):
        reach = width
        for j, ((pb, qb), ub) in enumerate(zip(ends, units, strict=True)):
            if i == j or abs(float(ua @ ub)) < math.cos(math.radians(1.0)):
                continue
            gap = _across((pb + qb) / 2 - pa, ua)
            if gap <= group:
                reach = max(reach, gap / 2 + 1.0)
        reaches.append(reach)
    return reaches


def _stripe_reaches(
    grey: np.ndarray,
    blocked: np.ndarray,
    p0: np.ndarray,
    p1: np.ndarray,
    width: float,
    limit: int = 16,
    agree: float = 0.5,
) -> tuple[float, float]:
    """How far to carry on each side of the line p0 -> p1 (-normal, +normal): `width`, or to
    where the photo's profile across the line comes back to the level of the line's other side
    (the far border of a stripe: a cable, a road marking), when that lies between 2 x `width`
    and `limit` px out on both ends of the line, within `agree` x the nearer of them (a step
    edge, or texture, does not come back there in step; a stripe barely wider than the band is
    left to the search, as a band ending inside a horizon's fine layers showed)."""
    if 2 * width > limit + 0.5:  # no crossing can lie far enough out (guide_along's wide reach)
        return width, width
    length = float(np.hypot(*(p1 - p0)))
    u = (p1 - p0) / length
    normal = np.array([-u[1], u[0]])
    s = np.arange(-limit, limit + 1, dtype=np.float64)
    h, w = blocked.shape
    crossings: list[list[float]] = [[], []]
    for end, step in ((p0, -u), (p1, u)):  # beyond each end, outside the hole
        k = np.arange(3.0, 13.0)
        pos = end + k[:, None, None] * step + s[None, :, None] * normal  # (k, s, xy)
        x0, y0 = np.floor(pos[..., 0]).astype(int), np.floor(pos[..., 1]).astype(int)
        ok = (x0 >= 0) & (x0 < w - 1) & (y0 >= 0) & (y0 < h - 1)
        ok[ok] = ~blocked[y0[ok], x0[ok]]
        fx, fy = pos[..., 0] - x0, pos[..., 1] - y0
        sample = _bilinear(grey, np.where(ok, x0, 0), np.where(ok, y0, 0), fx, fy)
        seen = ok.sum(axis=0)
        # Where no sample at this end lies outside the hole the profile is unknown (NaN): a
        # crossing must come before it.
        profile = np.where(ok, sample, 0.0).sum(axis=0) / np.where(seen, seen, np.nan)
        lower = profile[limit - 3 : limit - 1].mean()  # levels either side, 2-3 px out
        upper = profile[limit + 2 : limit + 4].mean()
        contrast = upper - lower
        if not abs(contrast) >= 6.0:  # (also when either level is unknown)
            return width, width
        level = (profile - lower) / contrast  # 0 on the -normal side, 1 on the +normal side
        # Outward from 2 px: on the -normal side until the level rises half way to the other
        # side's, on the +normal side until it falls half way; an unknown sample first: none.
        below, above = level[limit - 2 :: -1], level[limit + 2 :]
        for side, (run, gone) in enumerate(((below, below > 0.5), (above, above < 0.5))):
            stop = gone | np.isnan(run)
            first = int(np.argmax(stop))
            crossings[side].append(first + 2.5 if stop[first] and gone[first] else np.inf)
    reaches = []
    for found in crossings:
        a, b = found
        if (
            math.isfinite(a)
            and math.isfinite(b)
            and abs(a - b) <= agree * min(a, b)
            and min(a, b) >= 2 * width
        ):
            reaches.append(min(a, b))
        else:
            reaches.append(width)
    return reaches[0], reaches[1]


def _march_estimate(
    blocked: np.ndarray, pts: np.ndarray, step: np.ndarray, normal: np.ndarray, reach: int
) -> np.ndarray:
    """Roughly (to a pixel or so) how far each point must go along `step` to a free sample: the
    points' rows of a strip sampled along `step` (nearest), scanned once instead of stepping
    every point pixel by pixel."""
    rows = np.rint(pts @ normal).astype(int)
    first = rows.min()
    base = pts @ step
    ts = np.arange(first, rows.max() + 1, dtype=np.float64)
    ks = np.arange(0, int(np.ceil(base.max() - base.min())) + reach + 2, dtype=np.float64)
    s0 = base.min()
    # Sample (row t, column k) sits at t * normal + (s0 + k) * step.
    mx = (ts[:, None] * normal[0] + (s0 + ks[None, :]) * step[0]).astype(np.float32)
    my = (ts[:, None] * normal[1] + (s0 + ks[None, :]) * step[1]).astype(np.float32)
    free = cv2.remap(
        (~blocked).view(np.uint8), mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT
    )
    cols = np.arange(free.shape[1])
    # For every column, the next free column at or after it in its row.
    nxt = np.where(free > 0, cols, free.shape[1])
    nxt = np.minimum.accumulate(nxt[:, ::-1], axis=1)[:, ::-1]
    here = np.rint(base - s0).astype(int)
    hit = nxt[rows - first, np.minimum(here + 1, free.shape[1] - 1)] - here
    return np.clip(hit - 3, 1, reach)


def blocked_samples(hole: np.ndarray) -> np.ndarray:
    """Where a bilinear sample may not start: one at (x + fx, y + fy) reads pixels x..x+1,
    y..y+1, so it is blocked if any is in the hole (a 2 x 2 max towards the top left; the last
    row and column count as blocked)."""
    h, w = hole.shape
    blocked = np.ones((h, w), bool)
    blocked[:-1, :-1] = hole[:-1, :-1] | hole[1:, :-1] | hole[:-1, 1:] | hole[1:, 1:]
    return blocked


def first_known(
    image: np.ndarray,
    blocked: np.ndarray,
    pts: np.ndarray,
    step: np.ndarray,
    start: np.ndarray,
    reach: int,
) -> tuple[np.ndarray, np.ndarray]:
    """For each point, the photo's value (bilinear: a sloping line keeps its sub-pixel place) at
    the first position along `step` (a unit vector, one pixel at a time from `start` px) whose
    sample reads no hole pixel (`blocked` False), and how far it lay (0 if none within `reach`)."""
    h, w = blocked.shape
    value = np.zeros((len(pts), image.shape[2]))
    dist = np.zeros(len(pts))
    todo = np.arange(len(pts))
    k = start.astype(np.float64)
    while todo.size:
        f = pts[todo] + k[todo, None] * step
        x0, y0 = np.floor(f[:, 0]).astype(int), np.floor(f[:, 1]).astype(int)
        inside = (x0 >= 0) & (x0 < w) & (y0 >= 0) & (y0 < h) & (k[todo] <= reach)
        todo, f, x0, y0 = todo[inside], f[inside], x0[inside], y0[inside]  # off the window: none
        known = ~blocked[y0, x0]
        i, f, x0, y0 = todo[known], f[known], x0[known], y0[known]
        value[i] = _bilinear(image, x0, y0, f[:, 0] - x0, f[:, 1] - y0)
        dist[i] = k[i]
        todo = todo[~known]
        k[todo] += 1
    return value, dist


def _bilinear(
    image: np.ndarray, x0: np.ndarray, y0: np.ndarray, fx: np.ndarray, fy: np.ndarray
) -> np.ndarray:
    """`image` (H x W, or H x W x C) sampled bilinearly at (x0 + fx, y0 + fy); x0 + 1 and
    y0 + 1 must lie inside."""
    if image.ndim == 3:
        fx, fy = fx[..., None], fy[..., None]
    top = image[y0, x0] * (1 - fx) + image[y0, x0 + 1] * fx
    bottom = image[y0 + 1, x0] * (1 - fx) + image[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bottom * fy


def _pieces(
    composite: np.ndarray, hole: np.ndarray, own: np.ndarray, side: float, opts: LineOptions
) -> list[_Piece]:
    """Segments of the photo outside the hole with one end near `own`, cut short of the hole."""
    grey = cv2.cvtColor(composite, cv2.COLOR_RGB2GRAY)
    found = cv2.createLineSegmentDetector(cv2.LSD_REFINE_STD).detect(grey)[0]
    if found is None:
        return []
    h, w = hole.shape
    # Pixels within 2 px of any hole pixel are not evidence (the fill's border shows there).
    blocked = cv2.dilate(hole.view(np.uint8), np.ones((5, 5), np.uint8)) > 0
    to_own = cv2.distanceTransform((~own).view(np.uint8), cv2.DIST_L2, 3)
    min_len = max(opts.min_px, opts.min_length * side)
    near = opts.near_px + opts.near * side
    segments = found.reshape(-1, 4)
    # Only segments long enough, and passing near enough (distance is 1-Lipschitz: no point of a
    # segment is nearer than its nearer end's distance less half its length), are cut up.
    length = np.hypot(segments[:, 2] - segments[:, 0], segments[:, 3] - segments[:, 1])
    ends = np.clip(np.rint(segments).astype(int), 0, [w - 1, h - 1, w - 1, h - 1])
    d_ends = np.minimum(to_own[ends[:, 1], ends[:, 0]], to_own[ends[:, 3], ends[:, 2]])
    segments = segments[(length >= min_len) & (d_ends - length / 2 <= near)]
    pieces = []
    for x0, y0, x1, y1 in segments:
        n = max(2, int(math.hypot(x1 - x0, y1 - y0)) + 1)
        t = np.linspace(0.0, 1.0, n)
        px, py = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
        ix = np.clip(np.round(px).astype(int), 0, w - 1)
        iy = np.clip(np.round(py).astype(int), 0, h - 1)
        free = ~blocked[iy, ix]
        # Runs of free samples: each is a piece of segment clear of the hole.
        edges = np.flatnonzero(np.diff(np.concatenate([[0], free.view(np.int8), [0]])))
        for s, e in zip(edges[::2], edges[1::2], strict=True):
            if e - s < 2:
                continue
            a = np.array([px[s], py[s]])
            b = np.array([px[e - 1], py[e - 1]])
            if float(np.hypot(*(b - a))) < min_len:
                continue
            da, db = to_own[iy[s], ix[s]], to_own[iy[e - 1], ix[e - 1]]
            near_end, far_end = (a, b) if da <= db else (b, a)
            if min(da, db) > near:
                continue
            left, right = _sides(composite, blocked, near_end, far_end)
            if left is None or right is None:
                continue
            pieces.append(_Piece(near_end, far_end, left, right))
    return pieces


def _sides(
    image: np.ndarray, blocked: np.ndarray, near: np.ndarray, far: np.ndarray
) -> tuple[np.ndarray | None, np.ndarray | None]:
    """Mean RGB 2.5 px to the left and to the right of the segment far -> near (free pixels)."""
    h, w = blocked.shape
    d = near - far
    length = float(np.hypot(*d))
    u = d / length
    normal = np.array([-u[1], u[0]])
    t = np.linspace(0.0, 1.0, max(2, int(length) + 1))[:, None]
    centre = far + t * d
    means = []
    for sign in (1.0, -1.0):
        p = np.round(centre + sign * 2.5 * normal).astype(int)
        ok = (p[:, 0] >= 0) & (p[:, 0] < w) & (p[:, 1] >= 0) & (p[:, 1] < h)
        p = p[ok]
        p = p[~blocked[p[:, 1], p[:, 0]]]
        means.append(image[p[:, 1], p[:, 0]].astype(np.float32).mean(axis=0) if len(p) else None)
    return means[0], means[1]


def _angle(u: np.ndarray, v: np.ndarray) -> float:
    """Degrees between unit vectors u and v."""
    return math.degrees(math.acos(max(-1.0, min(1.0, float(u @ v)))))


def _grey(rgb: np.ndarray) -> float:
    return float(rgb @ np.array([0.299, 0.587, 0.114], np.float32))


def _pairs(pieces: list[_Piece], own: np.ndarray, opts: LineOptions) -> list[tuple[_Piece, _Piece]]:
    """Pieces that continue each other across `own`, best first, each used once."""
    h, w = own.shape
    found = []
    for i, a in enumerate(pieces):
        for j in range(i + 1, len(pieces)):
            b = pieces[j]
            chord = b.near - a.near
            length = float(np.hypot(*chord))
            if length < 2.0:
                continue
            u = chord / length
            turn = max(_angle(a.direction, u), _angle(b.direction, -u))
            if turn > opts.max_angle:
                continue
            off = max(_distance_to_line(b.near, a), _distance_to_line(a.near, b))
            if off > opts.max_offset + 0.01 * length:
                continue
            # The chord must cross the hole (not run beside it).
            t = np.linspace(0.0, 1.0, max(2, int(length)))[:, None]
            p = np.round(a.near + t * chord).astype(int)
            ok = (p[:, 0] >= 0) & (p[:, 0] < w) & (p[:, 1] >= 0) & (p[:, 1] < h)
            if not ok.any() or own[p[ok, 1], p[ok, 0]].mean() < 0.5:
                continue
            # Seen along the chord, b's left is a's left: the same side dark, the same colours.
            a_l, a_r = a.left, a.right  # a's direction is along the chord
            b_l, b_r = b.right, b.left  # b's points back against it
            ca, cb = _grey(a_l) - _grey(a_r), _grey(b_l) - _grey(b_r)
            if min(abs(ca), abs(cb)) < opts.min_contrast or ca * cb <= 0:
                continue
            if min(abs(ca), abs(cb)) < opts.contrast_ratio * max(abs(ca), abs(cb)):
                continue
            colour = max(_rms(a_l - b_l), _rms(a_r - b_r))
            if colour > opts.max_colour:
                continue
            found.append((turn / opts.max_angle + colour / opts.max_colour, i, j))
    used: set[int] = set()
    pairs = []
    for _, i, j in sorted(found):
        if i in used or j in used:
            continue
        used.update((i, j))
        pairs.append((pieces[i], pieces[j]))
    return pairs


def _distance_to_line(p: np.ndarray, piece: _Piece) -> float:
    return _across(p - piece.near, piece.direction)


def _unit(d: np.ndarray) -> np.ndarray:
    return d / max(float(np.hypot(*d)), 1e-9)


def _across(d: np.ndarray, u: np.ndarray) -> float:
    """Length of the part of offset `d` across the unit direction `u`."""
    return abs(float(d[0] * u[1] - d[1] * u[0]))


def _rms(d: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(d))))
