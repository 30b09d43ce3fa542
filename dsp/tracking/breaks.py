"""Where a note heard late began: the break it made in the note it cut short."""

from __future__ import annotations

import math

import numpy as np

from dsp.tracking.audio import _glide_scan, _misfit_db
from dsp.tracking.constants import (
    _ADDED_DB,
    _BREAK_BEFORE,
    _BREAK_BLOCK,
    _BREAK_CENTS,
    _BREAK_FIT_DB,
    _BREAK_HOPS,
    _BREAK_RATIOS,
    _BREAK_RISE_DB,
    _BREAK_SPAN_S,
    _DECIMATION,
    _GLIDE_FIRST_BLOCKS,
    _GLIDE_STEP,
    _SAME_ATTACK_S,
    _STOPPED_DB,
)
from dsp.tracking.state import _BreakQuery, _Note
from dsp.tracking.values import NoteEvent


class _Breaks:
    """Where a note heard late began: where the sounding note's period stopped fitting
    the audio (see _period_break), or where a glide left it."""

    # -- where a note heard late began --------------------------------------------------

    def _attack_heard_late(
        self,
        onset_s: float,
        level_db: float,
        now: float,
        events: list[NoteEvent],
        note: _Note | None,
    ) -> None:
        """``_attack`` for an attack heard late (spectral novelty, a dip and a rise, hfc),
        the break in the sounding ``note``'s period (see _began) looked for on the next hop
        (or at the new note's report, if that comes first), not on this one, which
        finishes ``note``: the same onset, ~100–250 µs moved off the costliest hops. The
        audio it searches is kept as it is now."""
        query = None
        lookback = self._lookback
        if note is not None and note.ref == note.ref and len(lookback) >= _BREAK_HOPS // 2:
            query = _BreakQuery(note, onset_s, lookback, self._samples)
        self._attack(onset_s, level_db, now, events)
        new = self._note
        if query is not None and new is not None and new is not note and new.began_s != new.began_s:
            self._break_query = (new, query)  # (a touch dated the note: no break asked for)

    def _answer_break(self) -> None:
        """Where the note heard late began (see _attack_heard_late), now."""
        new, query = self._break_query  # type: ignore[misc]
        self._break_query = None
        found = self._period_break(
            query.note, query.heard_s, query.new_midi, query.lookback, query.samples
        )
        if found is not None:
            new.began_s = found

    def _began(self, note: _Note | None, heard_s: float, new_midi: float = math.nan) -> float:
        """When a note whose attack was heard at ``heard_s`` began: where the sounding
        ``note``'s period broke (see _period_break), else ``heard_s``."""
        if note is None:
            return heard_s
        found = self._period_break(note, heard_s, new_midi)
        return heard_s if found is None else found

    def _period_break(
        self,
        note: _Note,
        heard_s: float,
        new_midi: float,
        lookback: tuple[np.ndarray, ...] | None = None,
        samples: int | None = None,
    ) -> float | None:
        """Where the sounding ``note`` stopped repeating its period: where a re-attack heard
        at ``heard_s``, or a new note without one (``new_midi``, its onset guessed at
        ``heard_s``), took over from it. None when its period never clearly broke.

        Distortion clips the level flat, so a re-pick or a new note barely moves it: the
        spectral-novelty, dip-and-rise and ``hfc`` paths heard them one to four hops late
        and timed them in the hop they heard (dev distortion onset p90 30 ms). A legato
        note is placed 45 ms before its pitch was first read, YIN's lag, which is a guess
        (dev legato p90 6.7 ms). The old note, though, repeats its period until the new
        one takes over: there the audio stops matching itself a period earlier.

        The break is the 1.3 ms block, from 50 ms before ``heard_s`` (and 50 ms after the
        note's own onset) on, where that misfit (``_misfit``: the best of five periods
        within ±40 cents of the note's) rises most over the next period (at most four
        blocks): at least 8 dB over its mean across the 21 ms before, where the note must
        have fitted its period (a mean under −11 dB; at −10 a note fading into an amp's
        hum passed on dev, at −12 some distorted notes did not). It is not taken

        * after ``heard_s`` for an attack (its period breaks as the attack grows; the
          attack was heard where it began);
        * when what the audio after it does not repeat lies 10 dB under the note's level
          (a note fading into hum or noise, nothing new);
        * when the sound fell 9 dB (one period's energy) from there to ``heard_s``: a
          note-off or a mute before the next pluck (staccato runs end each note 10–15 ms
          before the next), whose rise was heard where it is.

        A new note without an attack that came by a glide (a slide, a bend) is placed half
        way through it (see _glide_half). Only the onset reported moves (``_Note.began_s``);
        the note is named and reported from where it was heard. Dev onset p90: distortion
        30.2 → 10.7 ms, legato 6.7 → 2.7, all conditions 3.8 → 2.4; onset F, names and
        first names unchanged everywhere. ~150–350 µs at such an attack. (``lookback`` and
        ``samples``: the half-rate audio kept and the stream's length when it was heard,
        when looked for later; else now's.)
        """
        ref = note.ref
        lookback = self._lookback if lookback is None else lookback
        if ref != ref or len(lookback) < _BREAK_HOPS // 2:
            return None
        rate = self._half_rate
        audio = np.concatenate(lookback)
        n = len(audio)
        # stream sample (half rate) after the audio
        end = (self._samples if samples is None else samples) // _DECIMATION
        b = _BREAK_BLOCK
        tau = rate / (self._a4 * 2.0 ** ((ref - 69.0) / 12.0))
        longest = tau * 2.0 ** (max(_BREAK_CENTS) / 1200.0)
        if new_midi == new_midi:
            longest = max(longest, rate / (self._a4 * 2.0 ** ((new_midi - 69.0) / 12.0)))
        after = max(1, min(4, int(tau) // b))  # blocks: at most a period of the note
        if new_midi != new_midi:  # an attack: its break comes before it was heard
            cut = min(n, n - end + round(heard_s * rate) + (after + 1) * b)
            audio, end, n = audio[:cut], end - n + cut, cut
        earliest = max(note.onset_s + _SAME_ATTACK_S, heard_s - _BREAK_SPAN_S) * rate
        reach = end - round(earliest) + _BREAK_BEFORE * b  # the 21 ms before it too
        blocks = int(min(n - longest - 2, reach) // b)
        if blocks < _BREAK_BEFORE + after:
            return None
        power = np.empty(n + 1)  # the running sum of squares, from 0
        power[0] = 0.0
        np.cumsum(np.square(audio, dtype=np.float64), out=power[1:])
        periods = tau * _BREAK_RATIOS
        misfit = np.minimum.reduce(self._misfit(audio, power, blocks, periods), axis=0)
        start = end - blocks * b  # stream sample (half rate) of the first block
        sums = np.concatenate(([0.0], np.cumsum(misfit)))
        ks = np.arange(_BREAK_BEFORE, blocks - after + 1)
        before = (sums[ks] - sums[ks - _BREAK_BEFORE]) / _BREAK_BEFORE
        rise = (sums[ks + after] - sums[ks]) / after - before
        rise[(before > _BREAK_FIT_DB) | (start + ks * b < earliest)] = -math.inf
        best = int(rise.argmax())
        if rise[best] < _BREAK_RISE_DB:
            return None
        at = int(ks[best])
        heard = round(heard_s * rate) - start  # in the blocks' samples
        if new_midi != new_midi and at * b >= heard:
            return None
        first = n - (blocks - at) * b  # the break, in ``audio``
        # (The level first: it is the cheaper test, and refuses most breaks on fast runs.)
        width = max(b, round(tau))
        last = min(max(first + heard - at * b, first + b), n)
        level = power[first : last + 1] - power[first - width : last + 1 - width]
        if level[1:].min() < level[0] * 10.0 ** (-_STOPPED_DB / 10.0):
            return None
        if self._added_db(audio, first, after * b, tau) < -_ADDED_DB:
            return None
        if new_midi == new_midi:
            half = self._glide_half(audio, power, blocks, at, ref, new_midi)
            if half is not None:
                return (start + half) / rate
        return (start + at * b) / rate

    def _misfit(
        self, audio: np.ndarray, power: np.ndarray, blocks: int, periods: np.ndarray
    ) -> np.ndarray:
        """Per period (in samples) and per 32-sample block of the last ``blocks``: how badly
        the audio repeats that period, in dB: the energy of ``x[t] - x[t - period]`` over
        that of both (−∞ periodic, 0 unrelated). ``power`` is the running sum of the
        audio's squares (from 0)."""
        n = len(audio)
        b = _BREAK_BLOCK
        m = blocks * b
        lags = periods.astype(np.intp)
        frac = (periods - lags).astype(np.float32)
        # The audio one period earlier, interpolated between samples: per period, two
        # slices (the same float32 products and sum as gathering all periods at once;
        # each weight a 0-d array, which numpy takes faster than a scalar).
        keep = 1.0 - frac
        lagged = np.empty((len(periods), m), dtype=np.result_type(audio, frac))
        other = np.empty(m, dtype=lagged.dtype)
        for j, lag in enumerate(lags.tolist()):
            first = n - m - lag
            np.multiply(audio[first : first + m], keep[j, ...], lagged[j])
            np.multiply(audio[first - 1 : first - 1 + m], frac[j, ...], other)
            lagged[j] += other
        return _misfit_db(lagged, audio, power, lags, blocks)

    def _added_db(self, audio: np.ndarray, first: int, span: int, tau: float) -> float:
        """What the ``span`` samples from ``first`` on do not repeat of the period ``tau``
        (the best within ±40 cents), over the level of the audio just before: dB."""
        before = audio[first - _BREAK_BEFORE * _BREAK_BLOCK : first]
        level = float(np.dot(before, before)) / len(before) + 1e-12
        x = audio[first : first + span]
        least = math.inf
        for c in _BREAK_CENTS:
            period = tau * 2.0 ** (c / 1200.0)
            lag = int(period)
            frac = period - lag
            lagged = audio[first - lag : first - lag + span] * (1.0 - frac)
            lagged += audio[first - lag - 1 : first - lag - 1 + span] * frac
            residual = x - lagged
            least = min(least, float(np.dot(residual, residual)) / span)
        return 10.0 * math.log10(least / level + 1e-12)

    def _glide_half(
        self, audio: np.ndarray, power: np.ndarray, blocks: int, at: int, old: float, new: float
    ) -> float | None:
        """Samples after the first block at which a glide from ``old`` to ``new`` that
        began at block ``at`` was half way: where the period the audio repeats best (on a
        0.2-semitone grid between the two) passes the middle one, when every block from
        the break on repeats one of them (≤ −6 dB). None when some block repeats none: a
        hammer-on, a pull-off or a pick, which begin at the break.

        A slide or a bend takes 40–120 ms; the label (and the ear) puts the new note half
        way to its pitch. YIN reads the new pitch only once it has settled, and the break
        of the old period comes where the glide began.
        """
        steps = max(2, math.ceil(abs(new - old) / _GLIDE_STEP))
        pitches = [old + (new - old) * j / steps for j in range(steps + 1)]
        periods = self._half_rate / (self._a4 * 2.0 ** ((np.array(pitches) - 69.0) / 12.0))
        # Most breaks are a hammer-on, a pull-off or a pick: no period fits the block
        # after the break, and the scan ends there. The first blocks' misfits are computed
        # first (each block's misfit is the same however many are computed), the rest only
        # when those leave it open (see _misfit_from).
        first = min(_GLIDE_FIRST_BLOCKS, blocks - at)
        fits = self._misfit_from(audio, power, blocks, at, first, periods)
        decided, half = _glide_scan(fits, at, at + first, steps, pitches, self._a4, self._half_rate)
        if not decided and first < blocks - at:
            fits = self._misfit(audio, power, blocks - at, periods)
            decided, half = _glide_scan(fits, at, blocks, steps, pitches, self._a4, self._half_rate)
        return half

    def _misfit_from(
        self,
        audio: np.ndarray,
        power: np.ndarray,
        blocks: int,
        at: int,
        count: int,
        periods: np.ndarray,
    ) -> np.ndarray:
        """``_misfit(audio, power, blocks - at, periods)``'s first ``count`` columns (blocks
        ``at`` to ``at + count`` of the last ``blocks``): the same float32 operations on
        each block's samples, every period's lagged audio gathered at once (a few blocks
        of many periods: ``_misfit``'s two slices per period would cost more)."""
        b = _BREAK_BLOCK
        cut = len(audio) - (blocks - at - count) * b
        lags = periods.astype(np.intp)
        frac = (periods - lags).astype(np.float32)[:, None]
        where = np.arange(cut - count * b, cut)[None, :] - lags[:, None]
        lagged = audio[where] * (1.0 - frac) + audio[where - 1] * frac
        return _misfit_db(lagged, audio[:cut], power[: cut + 1], lags, count)
