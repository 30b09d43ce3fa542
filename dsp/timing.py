"""Timing stability, note by note: where each onset lands against a local grid.

``grid_for(config)`` gives the metronome's grid (with ``bpm``) or a free-tempo one; its
``judge(onset_s)`` scores the onset and may revise the one before. Why the grid and the
tolerance are built as they are: ``docs/timing-score.md``.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import accumulate, pairwise
from typing import Protocol

from dsp.errors import InvalidSettingError


class TimingSettings(Protocol):
    """What a grid reads of the session's settings (``dsp.scoring.ScoringConfig`` is one):
    named here so the timing module does not import the scoring module that uses it."""

    @property
    def bpm(self) -> float | None: ...

    @property
    def beat_origin_s(self) -> float | None: ...

    def timing_tolerance(self, spacing_s: float) -> float: ...


# Timing: × the tolerance, the deviation still scored 1 and the one scored 0.
_TIMING_FULL = 0.4
_TIMING_ZERO = 4.0
_REST_S = 2.5
_FREE_REST_RATIO = 2.6
_GRID_REST_BEATS = 4.5
# Intervals a metronome grid accepts, in beats, and the subdivision each one implies.
_GRID_INTERVALS = (
    (1.0, 1),
    (2.0, 1),
    (3.0, 1),
    (4.0, 1),
    (0.5, 2),
    (1.5, 2),
    (0.25, 4),
    (0.75, 4),
    (1 / 3, 3),
    (2 / 3, 3),
)
_VOTE_SPAN = 8  # recent intervals that decide the subdivision of the grid
_FINER = {1: {2, 3, 4}, 2: {4}, 3: set(), 4: set()}  # what a single interval may bring in
_VOTES_NEEDED = 2  # one odd interval is a note out of place, two are a rhythm
_ANCHOR_SPAN = 8  # onsets a metronome grid's phase is estimated from
_LINE_SPAN = 12  # onsets a free-tempo line is fitted to ...
_CURVE_SPAN = 12  # ... and a curve (a tempo that changes) ...
_CURVE_MIN = 8  # ... once there are this many
_OUTLIER = 2.0  # × tolerance: an onset further off than this does not move the grid
# The finest grids judged: a metronome's subdivision (16ths up to 250 BPM) and, without
# one, a guessed half step, which must leave a note halfway between two points clearly off.
_FINEST_S = 0.06
_FINEST_FREE_S = 0.09
_MADS = 4.5  # median absolute deviations (≈ 3 sd) beyond which an onset is an outlier
_RELOCK = 3  # onsets in a row off the grid that move it
# Free-tempo fits, and how fast their track record forgets (per onset).
_LINE, _CURVE, _STEP, _TREND = range(4)
_TRACK_WEIGHT = 0.3
_UNPROVEN = 0.01  # s: the record a fit starts with before it has foreseen anything
_SETTLED = 4  # onsets in a phrase before its spacing is trusted that far
_SPACING_SPAN = 5  # recent intervals whose median is the free-tempo note spacing
_SKIP_DOUBT = 0.75  # a step past the next grid point counts three-quarters
_SEED_INTERVALS = 3  # intervals in a row that agree make a phrase's pulse ...
_SEED_AGREEMENT = 0.06  # ... each within this share of their mean
_PULSE_SHARE = 0.12  # a pulse of one and two units: at most this share of the unit off


@dataclass(frozen=True, slots=True)
class Timed:
    """One onset judged against the grid."""

    score: float
    offset_s: float  # signed: negative when early
    beat_s: float  # the beat (metronome) or the note spacing (free tempo) it was judged on


@dataclass(frozen=True, slots=True)
class Revision:
    """A previous onset judged again once the next one showed what it was: an extra onset
    (``new`` is None) or a late note for the grid point before the one it took."""

    old: Timed
    new: Timed | None


@dataclass(frozen=True, slots=True)
class _Slot:
    """The last onset placed on the grid."""

    onset_s: float
    position: float
    expected_s: float
    verdict: Timed | None
    skipped: tuple[float, float] | None  # the empty grid point just before it, and its time


@dataclass(frozen=True, slots=True)
class _Lattice:
    """Grid points at the multiples of 1/L (in beats or spacings) for each subdivision L."""

    levels: frozenset[int]

    def nearest(self, x: float) -> float:
        return min((round(x * n) / n for n in self.levels), key=lambda p: abs(x - p))

    def after(self, p: float) -> float:
        return min((math.floor(p * n + 1e-9) + 1) / n for n in self.levels)

    def before(self, p: float) -> float:
        return max((math.ceil(p * n - 1e-9) - 1) / n for n in self.levels)


class Grid:
    """Where a steady player would have put each onset, learnt from the onsets before it.

    ``judge`` answers the onset's verdict (None when it is not scored: a phrase's first
    notes, a note after a rest) and, now and then, a revision of the previous verdict.
    """

    def __init__(self, config: TimingSettings) -> None:
        self.config = config
        # (onset, grid position, on time): only onsets judged on time define the grid.
        self._points: deque[tuple[float, float, bool]] = deque(maxlen=_CURVE_SPAN)
        self._votes: deque[int] = deque(maxlen=_VOTE_SPAN)  # subdivision of each interval
        self._last: _Slot | None = None
        self._since_extra = _VOTE_SPAN  # onsets placed since an extra one was let off

    def judge(self, onset_s: float) -> tuple[Timed | None, Revision | None]:
        raise NotImplementedError

    def _restart(self, onset_s: float, position: float = 0.0) -> None:
        """A new phrase: the old notes no longer place this one."""
        self._points.clear()
        self._points.append((onset_s, position, True))
        self._last = _Slot(onset_s, position, onset_s, None, None)

    def _relock(self) -> None:
        """After a few onsets in a row off the grid, the grid was wrong (the tempo or the
        phase changed): trust them."""
        recent = list(self._points)[-_RELOCK:]
        if len(recent) == _RELOCK and not any(on_time for *_, on_time in recent):
            for i in range(len(self._points) - _RELOCK, len(self._points)):
                t, p, _ = self._points[i]
                self._points[i] = (t, p, True)

    def _settle(
        self,
        onset_s: float,
        x: float,
        lattice: _Lattice,
        fit: Callable[[float], float],
        beat_s: float,
        spacing_s: float,
    ) -> tuple[Timed | None, Revision | None, bool]:
        """Place an onset at grid position ``x`` (fractional) and judge it against ``fit``
        (position → expected time); the third answer says whether it took a new grid point.

        Grid points only go forward, one onset each. An onset nearest the previous onset's
        point takes it if it fits it better (the previous one is then judged again),
        otherwise it is early for the next point.
        """
        tol = self.config.timing_tolerance(spacing_s)
        last = self._last
        position = lattice.nearest(x)
        if last is not None and position <= last.position + 1e-9:
            offset = onset_s - last.expected_s
            if last.verdict is not None and abs(offset) < abs(last.verdict.offset_s):
                return self._claim(onset_s, offset, tol, beat_s)
            position = lattice.after(last.position)
        expected = fit(position)
        offset = onset_s - expected
        verdict = Timed(_timing_score(offset, tol), offset, beat_s)
        before = lattice.before(position)
        skipped = (
            (before, fit(before)) if last is not None and before > last.position + 1e-9 else None
        )
        self._points.append((onset_s, position, abs(offset) <= _OUTLIER * tol))
        self._relock()
        self._last = _Slot(onset_s, position, expected, verdict, skipped)
        self._since_extra += 1
        return verdict, None, True

    def _claim(
        self, onset_s: float, offset: float, tol: float, beat_s: float
    ) -> tuple[Timed | None, Revision | None, bool]:
        """This onset takes the previous one's grid point. If the previous one had skipped a
        point, it was late for that one; if not, and this onset plainly owns the point, it was
        an extra onset (a double trigger, a grace note) and is not scored; else both count."""
        held = self._last
        if held is None or held.verdict is None:
            return None, None, False
        verdict = Timed(_timing_score(offset, tol), offset, beat_s)
        taken = _Slot(onset_s, held.position, held.expected_s, verdict, None)
        if held.skipped is not None:
            position, expected = held.skipped
            late = held.onset_s - expected
            self._points[-1] = (held.onset_s, position, False)
            self._points.append((onset_s, held.position, abs(offset) <= _OUTLIER * tol))
            self._relock()
            self._last = taken
            return (
                verdict,
                Revision(held.verdict, Timed(_timing_score(late, tol), late, beat_s)),
                True,
            )
        self._points[-1] = (onset_s, held.position, abs(offset) <= _OUTLIER * tol)
        self._relock()
        self._last = taken
        # Now and then an extra onset is the tracker's or an ornament; often, the player's.
        if abs(offset) <= _OUTLIER * tol and self._since_extra >= _VOTE_SPAN:
            self._since_extra = 0
            return verdict, Revision(held.verdict, None), False
        return verdict, None, False


class MetronomeGrid(Grid):
    """The beat's grid, subdivided as the recent intervals are, at a known or learnt phase."""

    def __init__(self, config: TimingSettings) -> None:
        super().__init__(config)
        if config.bpm is None:
            raise InvalidSettingError("a metronome grid needs bpm")
        self.beat = 60.0 / config.bpm
        self.origin = config.beat_origin_s

    def rephase(self, origin_s: float) -> None:
        """The clicks restarted (after a pause, with a count-in) with one at ``origin_s``:
        judge against them from now on; the notes before no longer place the next."""
        if not math.isfinite(origin_s):
            raise InvalidSettingError(f"a click's time must be finite, not {origin_s}")
        self.origin = origin_s
        self._points.clear()
        self._votes.clear()
        self._last = None

    def judge(self, onset_s: float) -> tuple[Timed | None, Revision | None]:
        beat = self.beat
        origin = self.origin
        own = 0
        levels = {1, 2, 3, 4}  # no rhythm yet: any subdivision may start a phrase
        if self._points:
            interval = onset_s - self._points[-1][0]
            if interval <= 0.0:
                return None, None  # a chord or a repeated report: no new place in time
            if interval > max(_REST_S, _GRID_REST_BEATS * beat):
                self._votes.clear()
                if origin is None:
                    self._restart(onset_s)
                    return None, None
                self._points.clear()
                self._last = None
            else:
                context = self._levels()
                tol = self.config.timing_tolerance(beat / max(context))
                own = _subdivision(interval / beat, _OUTLIER * tol / beat)
                # A new, finer subdivision needs no votes if it fits the rhythm in play
                # (8ths or triplets in quarters, 16ths in 8ths); a triplet among 16ths does.
                levels = context | {own} if own and own in _FINER[max(context)] else context
        elif origin is None:
            self._restart(onset_s)
            return None, None
        anchor = origin if origin is not None else self._anchor()
        beats = (onset_s - anchor) / beat
        levels = {n for n in levels if beat / n >= _FINEST_S} or {1}
        verdict, revision, placed = self._settle(
            onset_s,
            beats,
            _Lattice(frozenset(levels)),
            lambda p: anchor + beat * p,
            beat,
            beat / max(levels),
        )
        if placed and own:
            self._votes.append(own)
        return verdict, revision

    def _levels(self) -> set[int]:
        """The subdivisions in play: the beat, and halves and quarters or triplets, which
        ever the recent intervals voted for more (a note off a 16th is often on a triplet)."""
        counts = Counter(self._votes)
        family = (3,) if counts[3] > counts[2] + counts[4] else (2, 4)
        return {1} | {n for n in family if counts[n] >= _VOTES_NEEDED}

    def _anchor(self) -> float:
        """Time of beat 0 from the recent onsets: the mean of those near the median."""
        recent = [(t, p) for t, p, on_time in self._points if on_time][-_ANCHOR_SPAN:]
        phases = sorted(t - p * self.beat for t, p in recent)
        middle = _median(phases)
        limit = _OUTLIER * self.config.timing_tolerance(self.beat)
        near = [x for x in phases if abs(x - middle) <= limit]
        return sum(near) / len(near) if near else middle


class FreeGrid(Grid):
    """A line (or a gentle curve) through the recent onsets, in units of the note spacing.

    Each onset's grid point comes from its distance to where the previous note belonged,
    against the median recent spacing; its deviation from the robust fit at that point is
    what is scored.
    """

    def __init__(self, config: TimingSettings) -> None:
        super().__init__(config)
        self._spacings: deque[float] = deque(maxlen=_SPACING_SPAN)  # seconds per unit
        self._steps: deque[float] = deque(maxlen=_VOTE_SPAN)
        self._misses = 0  # intervals that failed to agree while seeding a pulse
        # How far off each kind of fit has lately been: the line starts trusted.
        self._errors = {_LINE: 0.0, _CURVE: _UNPROVEN, _STEP: _UNPROVEN, _TREND: _UNPROVEN}

    def judge(self, onset_s: float) -> tuple[Timed | None, Revision | None]:
        if self._points:
            interval = onset_s - self._points[-1][0]
            if interval <= 0.0:
                return None, None  # a chord or a repeated report: no new place in time
            if interval > _REST_S:
                self._restart(onset_s)
                return None, None
        if not self._spacings:
            self._seed(onset_s)
            return None, None
        last_onset, last, _ = self._points[-1]
        spacing = _median(sorted(self._spacings))
        if onset_s - last_onset > _FREE_REST_RATIO * spacing:
            if len(self._points) < _SETTLED:
                self._spacings.clear()  # the pulse was a guess from a few notes: seed again
            self._restart(onset_s)
            return None, None
        tol = self.config.timing_tolerance(spacing)
        fits = self._fits(spacing)
        # Steps count from where the previous note belonged, not where it landed: after an
        # extra onset between two notes, the next note is still on its own grid point.
        steps = (onset_s - fits[_LINE](last)) / spacing
        if steps > 1.0:
            # The next point is likelier than a skipped one (a missed or held note): skipping
            # takes two-thirds of a spacing more, not half, or jitter would run the count ahead.
            # From each point on, not only the first: a quarter among 8ths is two steps, and
            # a note missed after it three, not two and a half.
            whole = max(1.0, math.ceil(steps) - 1.0)
            steps = whole + (steps - whole) * _SKIP_DOUBT
        halves = spacing / 2.0 >= _FINEST_FREE_S
        half = halves and _subdivision(steps, tol / spacing, free=True) == 2
        levels = {1, 2} if half or (halves and self._votes.count(2) >= _VOTES_NEEDED) else {1}
        # Judged against the fit that foresaw the recent onsets best, not the one nearest
        # this onset: that would excuse a late note whenever any fit happened to agree.
        best = min(fits, key=lambda kind: self._errors[kind])
        verdict, revision, placed = self._settle(
            onset_s,
            last + steps,
            _Lattice(frozenset(levels)),
            fits[best],
            spacing,
            spacing / max(levels),
        )
        if placed:
            (t0, p0, _), (t1, p1, _) = self._points[-2], self._points[-1]
            errors = {kind: abs(onset_s - fit(p1)) for kind, fit in fits.items()}
            nearest = min(errors.values())
            for kind, error in errors.items():
                # Measured against the best of them, so an onset none foresaw (a tracker
                # outlier) does not shuffle the ranking.
                self._errors[kind] += _TRACK_WEIGHT * (error - nearest - self._errors[kind])
            # On time for the grid's purposes if any kind of steady playing foresaw it.
            self._points[-1] = (t1, p1, nearest <= tol)
            self._relock()
            self._spacings.append((t1 - t0) / (p1 - p0))
            self._votes.append(2 if half else 1)
            self._steps.append(p1 - p0)
            self._rescale(halves)
        return verdict, revision

    def _seed(self, onset_s: float) -> None:
        """Find a phrase's pulse: ``_SEED_INTERVALS`` intervals in a row that agree, each one
        or two of a common unit (8ths and quarters mixed are a pulse of 8ths). Until they do,
        the oldest onset is let go — a stray, a pickup, or a note heard twice."""
        self._points.append((onset_s, 0.0, True))
        if len(self._points) <= _SEED_INTERVALS:
            return
        onsets = [t for t, *_ in list(self._points)[-_SEED_INTERVALS - 1 :]]
        intervals = [b - a for a, b in pairwise(onsets)]
        steps = _pulse_steps(intervals, self._misses, self.config.timing_tolerance)
        if steps is not None:
            self._misses = 0
            positions = [0, *accumulate(steps)]
            self._points = deque(
                ((t, float(p)) + (True,) for t, p in zip(onsets, positions, strict=True)),
                maxlen=_CURVE_SPAN,
            )
            self._spacings.extend(i / k for i, k in zip(intervals, steps, strict=True))
            self._steps.extend(float(k) for k in steps)
            self._last = _Slot(onsets[-1], float(positions[-1]), onsets[-1], None, None)
            # The first record: how each kind of fit would have foreseen the seed's last
            # onset, so a phrase that starts by speeding up is followed from its first note.
            # The line keeps the benefit of the doubt (``_UNPROVEN``) for a seed's noise.
            first, second = intervals[-3] / steps[-3], intervals[-2] / steps[-2]
            ahead = steps[-1]
            line = (onsets[-2] - onsets[0]) / (positions[-2] - positions[0])
            foreseen = {
                _LINE: onsets[-2] + line * ahead,
                _STEP: onsets[-2] + second * ahead,
                _TREND: onsets[-2] + second * second / first * ahead,
            }
            errors = {kind: abs(onsets[-1] - t) for kind, t in foreseen.items()}
            best = min(errors.values())
            for kind, error in errors.items():
                self._errors[kind] = error - best + (_UNPROVEN if kind != _LINE else 0.0)
            return
        self._misses += 1
        self._points.popleft()

    def _fits(self, spacing: float) -> dict[int, Callable[[float], float]]:
        """Where a steady player would go on, by kind: the line through the recent on-time
        onsets; with a dozen of them, the curve (a tempo changing smoothly); the last step
        again; and the last step changed as it last changed (an accelerando, exactly).
        The last two only after on-time notes: after a late one they would count the same
        lateness twice."""
        points = [(t, p) for t, p, on_time in self._points if on_time]
        t1, p1, _ = self._points[-1]
        if len(points) < 2:
            return {_LINE: lambda p: t1 + spacing * (p - p1)}
        floor = 0.5 * self.config.timing_tolerance(spacing)
        fits = {_LINE: _robust_fit(points[-_LINE_SPAN:], 1, floor)}
        if len(points) >= _CURVE_MIN:
            fits[_CURVE] = _robust_fit(points, 2, floor)
        recent = list(self._points)[-3:]
        if not all(ok for *_, ok in recent[-2:]):
            return fits
        (t0, p0, _), (t1, p1, _) = recent[-2:]
        step = (t1 - t0) / (p1 - p0)
        fits[_STEP] = lambda p: t1 + step * (p - p1)
        if len(recent) == 3 and recent[0][2]:
            tb, pb, _ = recent[0]
            ratio = step / ((t0 - tb) / (p0 - pb))
            if 0.8 < ratio < 1.25:
                fits[_TREND] = lambda p: t1 + step * ratio * (p - p1)
        return fits

    def _rescale(self, halves: bool) -> None:
        """Re-base positions on the spacing now played: 8ths after quarters become the unit."""
        if len(self._steps) < _VOTE_SPAN // 2:
            return
        middle = _median(sorted(self._steps))
        if middle > 0.5 or not halves:
            return
        factor = 2.0
        self._points = deque(((t, p * factor, ok) for t, p, ok in self._points), maxlen=_CURVE_SPAN)
        self._spacings = deque((s / factor for s in self._spacings), maxlen=_SPACING_SPAN)
        self._steps.clear()
        self._votes.clear()
        if self._last is not None:
            held = self._last
            skipped = held.skipped
            self._last = replace(
                held,
                position=held.position * factor,
                skipped=(skipped[0] * factor, skipped[1]) if skipped else None,
            )


def _subdivision(ratio: float, tolerance: float, *, free: bool = False) -> int:
    """The subdivision an interval of ``ratio`` beats (or spacings) implies; 0 if none.

    Free tempo knows only halves and doubles; a metronome also quarters and triplets.
    """
    if free:
        k = round(2.0 * ratio)
        if k >= 1 and abs(ratio - k / 2.0) <= tolerance:
            return 1 if k % 2 == 0 else 2
        return 0
    for multiple, level in _GRID_INTERVALS:
        if abs(ratio - multiple) <= tolerance:
            return level
    return 0


def _pulse_steps(
    intervals: Sequence[float], misses: int, tolerance: Callable[[float], float]
) -> list[int] | None:
    """How many units of a common pulse each interval spans (1 or 2: free tempo knows only
    halves and doubles), or None when they do not agree: each within ``_SEED_AGREEMENT`` of
    its multiple of the unit, the unit being their total over the steps they span.

    Equal intervals first; then one and two units; then equal intervals again at a bar
    that each miss has widened, so a pulse is found even in the most uneven playing (tried
    last: it would take the demo's 8th, 8th, quarter for a pulse of their mean). One and two
    units are held to a fixed bar: ``_OUTLIER`` × the timing tolerance (``tolerance``: unit
    → seconds; what the grid itself lets move it), but at most ``_PULSE_SHARE`` of the unit
    (16ths 20 ms apart are no pattern) and at least ``_SEED_AGREEMENT`` of it; and the unit
    must be ``_FINEST_FREE_S`` or more: else a note heard twice, halfway to the next, would
    halve the pulse.
    """
    mean = sum(intervals) / len(intervals)
    spread = max(abs(i - mean) for i in intervals)
    if spread <= _SEED_AGREEMENT * mean:
        return [1] * len(intervals)
    shortest = min(intervals)
    steps = [round(i / shortest) for i in intervals]
    unit = sum(intervals) / sum(steps)
    if (
        2 in steps  # (equal intervals are held to the narrow bar above)
        and all(k in (1, 2) for k in steps)
        and unit >= _FINEST_FREE_S
        and max(abs(i - k * unit) for i, k in zip(intervals, steps, strict=True))
        <= max(_SEED_AGREEMENT * unit, min(_OUTLIER * tolerance(unit), _PULSE_SHARE * unit))
    ):
        return steps
    if spread <= _SEED_AGREEMENT * (1 + misses) * mean:
        return [1] * len(intervals)
    return None


def _robust_fit(
    points: Sequence[tuple[float, float]], degree: int, floor: float
) -> Callable[[float], float]:
    """Least squares through (onset, position) after dropping onsets far off a first,
    robust guess — "far" scaled by how steady the rest are (4.5 median absolute
    deviations, at least ``floor``), so one late note does not drag the grid after it."""
    first = _theil_sen(points) if degree == 1 else _polyfit(points, degree)
    if first is None:
        first = _polyfit(points, 1) or (points[-1][0], 0.0, 0.0)
    guess = _poly(first, points[-1][1])
    residuals = [t - guess(p) for t, p in points]
    centre = _median(sorted(residuals))
    spread = _median(sorted(abs(r - centre) for r in residuals))
    limit = max(floor, _MADS * spread)
    keep = [pt for pt, r in zip(points, residuals, strict=True) if abs(r - centre) <= limit]
    coeffs = _polyfit(keep, degree) if len(keep) >= degree + 2 else None
    return _poly(coeffs, keep[-1][1]) if coeffs is not None else guess


def _theil_sen(points: Sequence[tuple[float, float]]) -> tuple[float, float, float] | None:
    """The median of the pairwise slopes and the median intercept: a line half the onsets
    could be wrong about, measured from the last position like ``_polyfit``."""
    slopes = sorted(
        (tj - ti) / (pj - pi)
        for i, (ti, pi) in enumerate(points)
        for tj, pj in points[i + 1 :]
        if pj > pi
    )
    if not slopes:
        return None
    slope = _median(slopes)
    origin = points[-1][1]
    return (_median(sorted(t - slope * (p - origin) for t, p in points)), slope, 0.0)


def _polyfit(points: Sequence[tuple[float, float]], degree: int) -> tuple[float, ...] | None:
    """Coefficients (a, b, c) of onset ≈ a + b·x + c·x², x = position − the last one's."""
    if len(points) <= degree:
        return None
    origin = points[-1][1]
    xs = [p - origin for _, p in points]
    ys = [t for t, _ in points]
    n = float(len(xs))
    s1 = sum(xs)
    s2 = sum(x * x for x in xs)
    t0 = sum(ys)
    t1 = sum(x * y for x, y in zip(xs, ys, strict=True))
    if degree == 1:
        det = n * s2 - s1 * s1
        if det <= 1e-12:
            return None
        b = (n * t1 - s1 * t0) / det
        return ((t0 - b * s1) / n, b, 0.0)
    s3 = sum(x**3 for x in xs)
    s4 = sum(x**4 for x in xs)
    t2 = sum(x * x * y for x, y in zip(xs, ys, strict=True))
    det = _det3(n, s1, s2, s1, s2, s3, s2, s3, s4)
    if abs(det) <= 1e-9:
        return None
    a = _det3(t0, s1, s2, t1, s2, s3, t2, s3, s4) / det
    b = _det3(n, t0, s2, s1, t1, s3, s2, t2, s4) / det
    c = _det3(n, s1, t0, s1, s2, t1, s2, s3, t2) / det
    return (a, b, c)


def _det3(a: float, b: float, c: float, d: float, e: float, f: float, g: float, h: float,
          i: float) -> float:  # fmt: skip
    return a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)


def _poly(coeffs: tuple[float, ...], origin: float) -> Callable[[float], float]:
    a, b, c = coeffs
    return lambda p: a + b * (p - origin) + c * (p - origin) ** 2


def _median(ordered: Sequence[float]) -> float:
    n = len(ordered)
    return ordered[n // 2] if n % 2 else 0.5 * (ordered[n // 2 - 1] + ordered[n // 2])


def _timing_score(offset_s: float, tolerance_s: float) -> float:
    """1 within ``_TIMING_FULL`` × the tolerance (the tracker's own error), then half a
    cosine down to 0 at ``_TIMING_ZERO`` × it: 0.93 at the tolerance, 0.5 at 2.2 ×."""
    ramp = (abs(offset_s) / tolerance_s - _TIMING_FULL) / (_TIMING_ZERO - _TIMING_FULL)
    if ramp <= 0.0:
        return 1.0
    if ramp >= 1.0:
        return 0.0
    return 0.5 * (1.0 + math.cos(math.pi * ramp))


ON_BEAT_MS = 5.0  # a mean offset under this is "on the beat": below what anyone hears


def describe_offset(offset_ms: float) -> str:
    """The mean signed offset to the click as a player acts on it: "you rush by 18 ms",
    "you drag by 12 ms", "on the beat"."""
    if abs(offset_ms) < ON_BEAT_MS:
        return "on the beat"
    return f"you {'rush' if offset_ms < 0 else 'drag'} by {abs(offset_ms):.0f} ms"


def grid_for(config: TimingSettings) -> Grid:
    """The grid a session is judged on: the metronome's, or one that follows the player."""
    return MetronomeGrid(config) if config.bpm else FreeGrid(config)
