"""The user's sketched lines carried into what a fill starts from: the network's pre-fill
(prefill.py) and the texture stage's guide (texture.py).

A sketched line says "an edge runs here": the trench's lip continues through the hole, with grass
above it and the dark wall below. The network follows a sketch's mere line only weakly, so its
fill beside the line is a smear, and the search, which copies whatever matches that smear, puts
grass on both sides of a crisp line. So near each sketched curve the image becomes the photo's
own profile across the line where the line meets the hole's edge, carried along the curve (from
both ends when both meet the edge, the nearer weighing more), fading back to what was there
further out. The network then sees the edge's two sides in place, and the search copies real
texture that matches each side: the edge continues.

* curves: each 8-connected stroke of the sketch is ordered from one tip to the other (its
  longest geodesic path) and reduced to a smoothed centre polyline;
* ends: a tip that reaches the hole's edge (the user drew in from outside) reads the profile
  there, across the curve's direction, a few pixels out of the hole; a tip inside the hole reads
  nothing;
* carrying: every pixel near a curve takes its place along the curve (s) and its signed distance
  from it (t), and gets the profile value at t from each end.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .lines import Line, blocked_samples, first_known

# The 8 neighbours of a pixel, as (dy, dx).
_STEPS = [(-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1)]


@dataclass(frozen=True)
class Curve:
    points: np.ndarray  # (N, 2) float (x, y): the centre line, from one tip to the other


def sketched_curves(
    lines: np.ndarray, min_length: float = 12.0, max_width: float = 48.0
) -> list[Curve]:
    """The centre lines of the strokes in `lines` (bool H x W), each at least `min_length` px
    from tip to tip. Strokes that meet (a T, a cross) give one curve per strand; a blob wider
    than `max_width` on average (area / long side: the hole painted over with the pen) is no
    line and gives none."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats(lines.view(np.uint8), connectivity=8)
    curves = []
    for k in range(1, count):
        x, y, w, h, area = stats[k]
        if max(w, h) >= min_length and area <= max_width * max(w, h):
            part = labels[y : y + h, x : x + w] == k
            curves += [Curve(points + (x, y)) for points in _strands(part, min_length)]
    return curves


def _strands(part: np.ndarray, min_length: float, most: int = 8) -> list[np.ndarray]:
    """Centre lines of one connected stroke: its longest path, then the longest path of each
    piece left over once that path's corridor is taken out, and so on."""
    found: list[np.ndarray] = []
    pieces = [part]
    while pieces and len(found) < most:
        piece = pieces.pop()
        line, corridor = _centre_line(piece)
        if line is None or _length(line) < min_length:
            continue
        found.append(line)
        rest = (piece & ~corridor).view(np.uint8)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(rest, connectivity=8)
        pieces += [labels == j for j in range(1, count) if max(stats[j, 2:4]) >= min_length]
    return found


def straight_lines(
    curves: list[Curve], hole: np.ndarray, tip_reach: int = 24
) -> tuple[list[Line], list[Curve]]:
    """The curves drawn straight (within 1.5 px, or 1 % of their length, of a line fitted to
    them; a Shift+click line) whose tips both meet the hole's edge, or one leaves the frame, as
    lines from edge to edge, for
    `lines.carry_along` to continue exactly (a cable, a railing: the guide alone let the search
    break a thin line); and the other curves."""
    blocked = blocked_samples(hole)
    lines: list[Line] = []
    others: list[Curve] = []
    for curve in curves:
        p0, p1 = curve.points[0], curve.points[-1]
        chord = float(np.hypot(*(p1 - p0)))
        line = None
        if chord >= 1.0:
            # The line through all the centre points (the tips' own bins are clipped by the
            # hole's edge), run from tip to tip.
            fit = cv2.fitLine(curve.points.astype(np.float32), cv2.DIST_L2, 0, 0.01, 0.01)
            u, mid = fit[:2, 0].astype(np.float64), fit[2:, 0].astype(np.float64)
            u = u if u @ (p1 - p0) > 0 else -u
            p0, p1 = mid + ((p0 - mid) @ u) * u, mid + ((p1 - mid) @ u) * u
            off = np.abs((curve.points - mid) @ np.array([-u[1], u[0]]))
            if off.max() <= max(1.5, 0.01 * chord):
                reach = [_to_edge(blocked, p, d, tip_reach) for p, d in ((p0, -u), (p1, u))]
                # A tip may also leave the frame (the hole runs off the photo): carried from
                # the other side only.
                framed = [_at_border(p, hole.shape) for p in (p0, p1)]
                ends = [r > 0 or f for r, f in zip(reach, framed, strict=True)]
                if all(ends) and max(reach) > 0:
                    a, b = p0 - u * reach[0], p1 + u * reach[1]
                    line = Line((float(a[0]), float(a[1])), (float(b[0]), float(b[1])))
        if line is None:
            others.append(curve)
        else:
            lines.append(line)
    return lines, others


def _to_edge(blocked: np.ndarray, p: np.ndarray, step: np.ndarray, reach: int) -> float:
    """How far from `p` along `step` the first known sample lies (0: none within `reach`)."""
    nothing = np.broadcast_to(np.zeros((1, 1, 1), np.uint8), (*blocked.shape, 1))
    return float(first_known(nothing, blocked, p[None], step, np.ones(1), reach)[1][0])


def _at_border(p: np.ndarray, shape: tuple[int, ...], margin: float = 2.5) -> bool:
    h, w = shape[:2]
    return bool(min(p[0], p[1], w - 1 - p[0], h - 1 - p[1]) <= margin)


def sketch_guide(
    guide: np.ndarray,
    hole: np.ndarray,
    own: np.ndarray,
    curves: list[Curve],
    reach: float,
    tip_reach: int = 24,
) -> np.ndarray:
    """Within `reach` px of the `curves`, set the pixels of `own` in `guide` (the photo with the
    network's fill in the hole; in place) to the photo's profile across each curve carried along
    it, fading back to the network's fill over the outer quarter. Returns how much of the
    carried profile each pixel took (0..1; 0 where the guide is the network's).
    A tip counts as meeting the hole's edge within `tip_reach` px straight on (users stop a
    line short of it). Only pixels outside `hole` are read."""
    h, w = hole.shape
    taken = np.zeros((h, w), np.float32)
    if not curves or reach <= 0:
        return taken
    # Work in the curves' box, grown by the band and by what is read beyond a tip (an 8K
    # window's full-size distance map and blend cost seconds).
    ends = np.concatenate([c.points for c in curves])
    m = int(math.ceil(reach)) + tip_reach + _READ + 8
    x0, y0 = max(int(ends[:, 0].min()) - m, 0), max(int(ends[:, 1].min()) - m, 0)
    x1, y1 = min(int(ends[:, 0].max()) + m + 1, w), min(int(ends[:, 1].max()) + m + 1, h)
    box = (slice(y0, y1), slice(x0, x1))
    moved = [Curve(c.points - (x0, y0)) for c in curves]
    taken[box] = _guide_box(guide[box], hole[box], own[box], moved, reach, tip_reach)
    return taken


_READ = 64  # how far out from a tip the profile may look for known pixels


def _guide_box(
    guide: np.ndarray,
    hole: np.ndarray,
    own: np.ndarray,
    curves: list[Curve],
    reach: float,
    tip_reach: int,
) -> np.ndarray:
    h, w = hole.shape
    taken = np.zeros((h, w), np.float32)
    # Every segment of every curve drawn with its own number: the nearest drawn pixel of each
    # pixel then says which segment it lies beside.
    drawn = np.zeros((h, w), np.int32)
    segments: list[tuple[int, int]] = []  # (curve, first point of the segment)
    for c, curve in enumerate(curves):
        p = np.rint(curve.points).astype(np.int32)
        for i in range(len(p) - 1):
            segments.append((c, i))
            cv2.line(drawn, tuple(map(int, p[i])), tuple(map(int, p[i + 1])), len(segments), 1)
    on = drawn > 0
    dist, nearest = cv2.distanceTransformWithLabels(
        (~on).view(np.uint8), cv2.DIST_L2, 5, labelType=cv2.DIST_LABEL_PIXEL
    )
    zone = own & (dist <= reach)
    if not zone.any():
        return taken
    ys, xs = np.nonzero(zone)
    oy, ox = np.nonzero(on)  # label k (from 1) is the k-th drawn pixel in scan order
    q = nearest[ys, xs] - 1
    seg = drawn[oy[q], ox[q]] - 1
    seg_curve = np.array([c for c, _ in segments])
    seg_first = np.array([i for _, i in segments])
    blocked = blocked_samples(hole)
    along = guide[ys, xs].astype(np.float64)
    trust = np.zeros(len(ys))  # how much of the carried profile each pixel takes
    pts_all = np.stack([xs, ys], axis=1).astype(np.float64)
    # Each curve's pixels, found once (a scribble of many strokes must not cost strokes x pixels).
    owner = seg_curve[seg]
    order = np.argsort(owner, kind="stable")
    bounds = np.searchsorted(owner[order], np.arange(len(curves) + 1))
    for c, curve in enumerate(curves):
        mine = order[bounds[c] : bounds[c + 1]]
        if mine.size == 0:
            continue
        pts = pts_all[mine]
        s, t = _place(curve.points, seg_first[seg[mine]], pts)
        total = np.zeros(len(pts))
        acc = np.zeros((len(pts), guide.shape[2]))
        cut = np.ones(len(pts))  # 0 past a tip inside the hole
        arc = _length(curve.points)
        for tip, gone in ((0, s), (-1, arc - s)):
            end = _end(curve.points, tip)
            if end is None:
                continue
            e, out, normal = end
            if _to_edge(blocked, e, out, tip_reach) == 0:
                # This tip lies deep inside the hole: nothing is carried from it, nor past it
                # (the user's line, and so the edge, stops there).
                cut = np.minimum(cut, np.clip(1.0 + gone / 4.0, 0.0, 1.0))
                continue
            gone = np.maximum(gone, 0.0)
            value, far = _across(guide, blocked, e, out, normal, t, reach)
            weight = np.where(far > 0, 1.0 / np.maximum(gone + far, 1.0) ** 2, 0.0)
            acc += value * weight[:, None]
            total += weight
        ok = total > 0
        idx = mine[ok]
        along[idx] = acc[ok] / total[ok][:, None]
        trust[idx] = cut[ok]
    trust *= np.clip((reach - dist[ys, xs]) / (reach / 4), 0.0, 1.0)
    keep = trust > 0.01
    ys, xs, trust, along = ys[keep], xs[keep], trust[keep, None], along[keep]
    blend = guide[ys, xs] * (1 - trust) + along * trust
    guide[ys, xs] = np.clip(np.rint(blend), 0, 255).astype(guide.dtype)
    taken[ys, xs] = trust[:, 0]
    return taken


def _across(
    image: np.ndarray,
    blocked: np.ndarray,
    e: np.ndarray,
    out: np.ndarray,
    normal: np.ndarray,
    t: np.ndarray,
    reach: float,
    run: int = 6,
    sigma: float = 1.5,
) -> tuple[np.ndarray, np.ndarray]:
    """The photo's profile across the curve at the tip `e`, read at the signed distances `t`:
    at each offset (1 px apart) the mean of `run` px along `out` from the first free sample
    (one pixel would carry a single pebble along the whole curve), smoothed across by `sigma`
    px; and how far out that lay (0: nothing there)."""
    grid = np.arange(-math.ceil(reach) - 2, math.ceil(reach) + 3, dtype=np.float64)
    starts = e + grid[:, None] * normal
    value, far = first_known(image, blocked, starts, out, np.ones(len(grid)), _READ)
    h, w = blocked.shape
    count = (far > 0).astype(np.float64)
    acc = value * count[:, None]
    for k in range(1, run):
        f = starts + (far + k)[:, None] * out
        x0, y0 = np.floor(f[:, 0]).astype(int), np.floor(f[:, 1]).astype(int)
        ok = (far > 0) & (x0 >= 0) & (x0 < w) & (y0 >= 0) & (y0 < h)
        ok[ok] = ~blocked[y0[ok], x0[ok]]
        acc[ok] += image[y0[ok], x0[ok]]
        count[ok] += 1
    taps = np.exp(-0.5 * (np.arange(-3, 4) / sigma) ** 2)
    acc = np.stack([np.convolve(acc[:, c], taps, "same") for c in range(acc.shape[1])], axis=1)
    profile = acc / np.maximum(np.convolve(count, taps, "same"), 1e-9)[:, None]
    seen = np.interp(t, grid, (far > 0).astype(np.float64)) > 0.5
    values = np.stack([np.interp(t, grid, profile[:, c]) for c in range(profile.shape[1])], axis=1)
    return values, np.where(seen, np.interp(t, grid, far), 0.0)


def _place(points: np.ndarray, first: np.ndarray, pts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each point's arc position along the polyline (projected on its segment `first`) and its
    signed distance from it (positive to the left of the direction of travel)."""
    a, b = points[first], points[first + 1]
    d = b - a
    length = np.maximum(np.hypot(d[:, 0], d[:, 1]), 1e-9)
    u = d / length[:, None]
    rel = pts - a
    raw = (rel * u).sum(axis=1)
    s_local = np.clip(raw, 0.0, length)
    t = rel[:, 0] * -u[:, 1] + rel[:, 1] * u[:, 0]
    steps = np.hypot(*np.diff(points, axis=0).T)
    before = np.concatenate([[0.0], np.cumsum(steps)])
    s = before[first] + s_local
    # Past either tip (on the first or last segment), how far: signed along the curve.
    s = np.where((first == 0) & (raw < 0), raw, s)
    last = len(points) - 2
    return np.where((first == last) & (raw > length), before[-1] + raw - length, s), t


def _end(points: np.ndarray, tip: int, span: float = 10.0):
    """A tip's position, the unit direction out of the curve there (over its last `span` px)
    and the curve's left normal (for the direction of travel from the first point on)."""
    seq = points if tip == 0 else points[::-1]
    steps = np.hypot(*np.diff(seq, axis=0).T)
    k = int(np.searchsorted(np.cumsum(steps), span)) + 1
    d = seq[0] - seq[min(k, len(seq) - 1)]
    n = float(np.hypot(*d))
    if n < 1e-6:
        return None
    out = d / n
    travel = -out if tip == 0 else out
    return seq[0].astype(np.float64), out, np.array([-travel[1], travel[0]])


def _centre_line(part: np.ndarray, step: int = 3) -> tuple[np.ndarray | None, np.ndarray]:
    """The centre line (x, y) of a stroke's longest path, from tip to tip, and the stroke's
    pixels along that path (its corridor): those pixels grouped by their breadth-first distance
    from one tip (in `step` px bins), each group's mean, lightly smoothed."""
    ys, xs = np.nonzero(part)
    if len(ys) < 2:
        return None, part
    index = np.full((part.shape[0] + 2, part.shape[1] + 2), -1, np.int64)
    index[ys + 1, xs + 1] = np.arange(len(ys))
    neighbours = np.stack([index[ys + 1 + dy, xs + 1 + dx] for dy, dx in _STEPS], axis=1)
    tip = int(np.argmax(_hops(neighbours, 0)[0]))  # the farthest pixel from any pixel is a tip
    hops, previous = _hops(neighbours, tip)
    path = [int(np.argmax(hops))]
    while path[-1] != tip:
        path.append(int(previous[path[-1]]))
    # The corridor: the stroke's pixels within its width (+1) of the path, which may run along
    # one side of a thick stroke (the inside of each bend).
    on_path = np.zeros(part.shape, np.uint8)
    on_path[ys[path], xs[path]] = 1
    radius = int(math.ceil(len(ys) / len(path))) + 1
    near = cv2.dilate(on_path, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1,) * 2))
    corridor = part & (near > 0)
    mine = corridor[ys, xs] & (hops >= 0)
    bins = hops[mine] // step
    size = np.bincount(bins)
    keep = size > 0
    mx = np.bincount(bins, xs[mine])[keep] / size[keep]
    my = np.bincount(bins, ys[mine])[keep] / size[keep]
    points = np.stack([mx, my], axis=1)
    if len(points) < 2:
        return None, corridor
    if len(points) >= 5:  # smooth the bins' staircase and the hand's jitter; the tips stay
        smooth = points.copy()
        smooth[2:-2] = (
            points[:-4] + 2 * points[1:-3] + 3 * points[2:-2] + 2 * points[3:-1] + points[4:]
        ) / 9
        points = smooth
    return points, corridor


def _hops(neighbours: np.ndarray, start: int) -> tuple[np.ndarray, np.ndarray]:
    """Breadth-first steps from `start` to every pixel (-1 where unreachable), and each pixel's
    predecessor on a shortest path."""
    hops = np.full(len(neighbours), -1, np.int64)
    previous = np.full(len(neighbours), -1, np.int64)
    hops[start] = 0
    frontier = np.array([start])
    k = 0
    while frontier.size:
        k += 1
        reached = neighbours[frontier].ravel()
        source = np.repeat(frontier, neighbours.shape[1])
        new = reached >= 0
        new[new] = hops[reached[new]] < 0
        pixels, first = np.unique(reached[new], return_index=True)
        hops[pixels] = k
        previous[pixels] = source[new][first]
        frontier = pixels
    return hops, previous


def _length(points: np.ndarray) -> float:
    return float(np.hypot(*np.diff(points, axis=0).T).sum()) if len(points) > 1 else 0.0


__all__ = ["Curve", "sketch_guide", "sketched_curves"]
