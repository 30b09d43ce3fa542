"""Attacks: the rules that start a note, over silence or over a ringing string."""

from __future__ import annotations

import math
from dataclasses import replace

import aubio
import numpy as np

from dsp.tracking.audio import _dip_index, _paired_db, _repeat_near
from dsp.tracking.constants import (
    _ATTACK_NOVELTY_S,
    _BLIP_DB,
    _BLIP_S,
    _BLOCK,
    _BLOCKS,
    _BODY_SKIP_S,
    _BUILDING_FALL_DB,
    _BUILDING_S,
    _DECIMATION,
    _DEEP_DIP_DB,
    _DIP_HOPS,
    _FLICKER_MIN_HOPS,
    _FLUX_BELOW_PEAK_DB,
    _FLUX_CONFIRM_HOPS,
    _FLUX_FALL_DB,
    _FLUX_FLOOR,
    _FLUX_OVER_FLICKER,
    _FLUX_RATIO,
    _FLUX_WEAK_RATIO,
    _GAP_BLOCKS,
    _GIVE_UP_S,
    _GOES_ON_MARGIN,
    _GOES_ON_WINDOW,
    _LOOKBACK_BLOCKS,
    _NOISE_MIN_HOPS,
    _NOVELTY_HISTORY,
    _NOVELTY_RATIO,
    _NOVELTY_RISE_DB,
    _QUIET_DIP,
    _QUIET_FALL_DB,
    _QUIET_HOPS,
    _QUIET_NOVELTY,
    _QUIET_SAME,
    _QUIET_SURE,
    _REPICK_BELOW_PEAK_DB,
    _REPICK_HOPS,
    _REPICK_NOVELTY,
    _REPICK_RISE_DB,
    _REPLUCK_DIP_DB,
    _REPLUCK_NOVELTY,
    _REPLUCK_RISE_DB,
    _REPORT_DEADLINE_S,
    _RESET_DB,
    _RESTART_DB,
    _RESTART_DIP_DB,
    _RINGING_S,
    _SAME_ATTACK_S,
    _SHALLOW_DIP_DB,
    _SHALLOW_RISE_DB,
    _TAIL_REPICK_HOPS,
    _TAIL_REPICK_RISE_DB,
    _TAIL_SEMITONES,
    _TOUCH_FALL_DB,
    _TOUCH_ROOM_DB,
    _TOUCH_S,
    _WEAK_EARLY_CONFIDENCE,
    _WENT_ON_BEFORE,
    _WENT_ON_DB,
    HOP_SIZE,
)
from dsp.tracking.pitches import _harmonic_jump, _pitch_class_distance, _same_or_harmonic
from dsp.tracking.state import _FluxRise, _Note
from dsp.tracking.values import NoteEvent

_NO_CLICKS = [0.0] * _BLOCKS  # (hops before the stream: see _click_blocks)


class _Attacks:
    """Is this hop an attack? By level, spectral novelty, whitened flux, a pick's click, a
    dip and rise, a quiet re-pick; and where the attack it heard began (a pick's touch)."""

    def _whitened_flux(self, grain: aubio.cvec) -> float:
        """aubio's ``specflux`` onset descriptor from the hop's spectrum, as
        ``aubio.onset("specflux")`` computes it on a spectrum of its own: each bin over the
        larger of 1 and its own peak, decaying 60 dB in 100 s (adaptive whitening), then
        ``log(1 + 10 x)``, then the rises over the last hop summed. The same float32 steps;
        numpy's log may differ from C's ``logf`` in the last bit. The magnitudes are
        whitened in place: ``specdiff`` has read them, and the next hop overwrites them.
        (Outputs go in positionally where numpy allows it: an ``out=`` keyword costs a
        parse on every call.)"""
        norm = grain.norm
        peaks = self._flux_peaks
        ones = self._flux_ones
        np.multiply(peaks, self._flux_decay, peaks)
        np.maximum(peaks, ones, out=peaks)  # (np.maximum deprecates a positional out)
        np.maximum(norm, peaks, out=peaks)
        np.divide(norm, peaks, norm)
        np.multiply(norm, self._flux_compression, norm)
        np.add(norm, ones, norm)
        np.log(norm, norm)
        return self._flux(grain).item(0)

    # -- level --------------------------------------------------------------------------

    def _find_attack(
        self, hop: np.ndarray, energy: float, start: int, start_db: float
    ) -> float | None:
        """Time of a pluck in this hop: a block ≥ 9 dB above the loudest of the six before
        the two that precede it (16 ms, ending 5 ms back, so an attack that takes a few ms
        to rise still counts), and loud enough.

        Most hops are cleared without splitting them into blocks: no block holds more than
        the whole hop, and every block's reference includes three blocks of the history.
        """
        history = self._blocks
        rise = self._rise_ratio
        floor = _BLOCK * 10.0 ** (start_db / 10.0)
        shared = max(history[3], history[4], history[5])
        if energy < rise * shared or energy < floor:
            history.extend((energy / _BLOCKS,) * _BLOCKS)
            return None
        blocks = np.multiply(hop, hop, self._squares).reshape(_BLOCKS, _BLOCK).sum(axis=1)
        blocks = blocks.tolist()
        sequence = [*history, *blocks]
        history.extend(blocks)
        span = len(sequence) - _BLOCKS  # blocks before this hop
        triggered = []
        for k, block in enumerate(blocks):
            i = span + k
            reference = max(sequence[i - _LOOKBACK_BLOCKS - _GAP_BLOCKS : i - _GAP_BLOCKS])
            if block >= floor and block >= rise * reference:
                triggered.append(k)
        if not triggered:
            return None
        # The loudest triggering block, not the first: a pluck whose rise a hop boundary
        # splits triggers on its first, quiet block too, and half of that block's RMS is a
        # threshold the pick's touch already crosses (the onset then moved 10–16 ms with the
        # sample rate on 12 of the 109 real notes; 7 with this).
        k = max(triggered, key=blocks.__getitem__)
        block = blocks[k]
        # The first sample above half the block's RMS, from two blocks earlier on: where the
        # pluck begins.
        audio = np.concatenate((self._recent[-2], hop)) if len(self._recent) > 1 else hop
        offset = len(audio) - HOP_SIZE + k * _BLOCK
        first = max(offset - _GAP_BLOCKS * _BLOCK, 0)
        threshold = 0.5 * math.sqrt(block / _BLOCK)
        above = np.flatnonzero(np.abs(audio[first : offset + _BLOCK]) >= threshold)
        at = first + (int(above[0]) if above.size else _GAP_BLOCKS * _BLOCK)
        self._attack_db = 10.0 * math.log10(max(blocks) / _BLOCK + 1e-12)
        return (start - (len(audio) - HOP_SIZE) + at) / self._rate

    def _is_novel(self, descriptor: float) -> bool:
        """The spectrum changed ``_NOVELTY_RATIO`` times more than it has been changing (the
        median of the last hops), on the first or second hop of such a change (the first
        may still be the old note letting go as the pick stops it)."""
        history = list(self._novelty)[-_NOVELTY_HISTORY:]
        background = sorted(history)[len(history) // 2] if history else 0.0
        self._background = background
        self._novelty.append(descriptor)
        novel = descriptor >= _NOVELTY_RATIO * background + 1e-9 and len(history) > 1
        self._novel_run = self._novel_run + 1 if novel else 0
        return 0 < self._novel_run <= 2

    def _flicker(self) -> float:
        """The highest whitened flux of the ringing string over the last hops since its
        last heard attack (a flux re-pick is not one: the flicker below goes on through
        it), or infinity before ``_FLICKER_MIN_HOPS`` of them are in (no flux re-pick then:
        within ~92 ms of an attack the other tests hear a re-pick, and dev lost none).

        A note whose partials are exact multiples (an additive synthesiser's, a test
        tone's) repeats its waveform exactly, and a 21 ms frame sliding over it sees a
        different phase each hop: its magnitudes flicker with the beat between the hop
        and the period (every ~60 ms for an A2), and the whitened flux rises 5–20× its
        median at each beat, a re-pick every 60–80 ms (A2–C3 harmonic tones split into
        11–19 notes; now 1, or 2 at A2 and C3, where one flicker comes before three hops
        of ringing). A real ringing string's flux never peaks like that (inharmonicity and
        noise spread it). Against the highest of these peaks the flicker rises at most
        1.4× (197 of them over 60 such tones), a dev re-pick 2.5× at its 5th percentile
        (22× at the median). Cost: 2 of ~600 soft re-picks on 288 more dev seeds, and one
        re-pluck of bench.realaug's 60.
        """
        if self._note is None:
            return 0.0
        ringing = int((self.time_s - self._ringing_from) / self._hop_s)
        if ringing < _FLICKER_MIN_HOPS:
            return math.inf
        fluxes = self._fluxes
        return max(list(fluxes)[-min(ringing, len(fluxes)) :], default=0.0)

    def _flux_rose(self, flux: float, floor: float) -> int:
        """2 when the whitened flux rose ``_FLUX_RATIO`` times over its median of the last
        hops, 1 when ``_FLUX_WEAK_RATIO`` times; on the first hop of such a rise only."""
        history = sorted(self._fluxes)
        background = max(history[len(history) // 2], floor) if history else floor
        weak = len(history) > 2 and flux >= _FLUX_WEAK_RATIO * background + 1e-9
        strong = weak and flux >= _FLUX_RATIO * background + 1e-9
        self._flux_run = self._flux_run + 1 if weak else 0
        self._flux_strong_run = self._flux_strong_run + 1 if strong else 0
        if self._flux_strong_run == 1:
            return 2
        return 1 if self._flux_run == 1 else 0

    def _flux_repick(
        self, start: int, rms_db: float, flux: float, confidence: float
    ) -> float | None:
        """The onset of a re-pick of the ringing string heard three hops ago by the flux,
        once confirmed; else None.

        A re-pick 3–12 dB softer than the note it stops lowers the level and barely
        changes the spectrum's magnitudes (specdiff), so the tests above miss it. Its pick
        still restores the string's upper partials, long decayed: aubio's ``specflux``
        divides each bin by its own recent peak (whitening) and counts only rises, so a
        decaying note gives it next to nothing and the pick a jump. Measured on dev
        (sustain, sustain-beating, let-ring: 15,884 hops of notes ringing) the flux rose at
        most 4.4× its median over the last 8 hops (2.6× at the 99.9th percentile); at the
        120 re-picks of repick-soft and fast-16ths the tests above missed, 13× (median;
        4.3× at the 10th percentile). The median counts as at least a hundredth of the
        ringing note's own attack flux: a steady synthetic tone's flux is numerical noise
        (a sine's: 0.005 of its attack), and over a median of zeros (the silence before
        it) it rises 5× at once. A rise of 5× is taken when, three hops later:

        * the level never fell 15 dB under the hop before the rise: a string stopped by
          the hand also splashes the bins between its partials (9–140× its median), but
          its level collapses 13–30 dB within a hop; the re-picks held within 12.5 dB;
        * the level is within 20 dB of the ringing note's peak: the re-picks were within
          16 dB (median 8); a real D3 through a phone (the tuning half), 24 dB into its
          decay, raised its flux 5× with its level flat;
        * the last 21 ms read the ringing note's pitch surely (see _reads_pitch_of): a
          slide or a bend raises the flux too, at its start, and after two hops still
          reads the old pitch (taken then, 2 of 98 dev legato notes were shown mid-glide);
          after three it has moved.

        A rise of only 2.5× (sampled notes' soft re-picks reach 2.5–5×, and so does one
        hop in a thousand of a ringing note) is taken when YIN was sure of the pitch on
        the hop before it (≥ 0.95) and its confidence fell under 0.9 in those three hops:
        the pick's transient breaks the period, which a ringing note keeps (beating and
        vibrato too), and the period is then read again. (Without the first condition a
        quiet noisy note of bench.tuning's rendered set, its confidence 0.86–0.90 all
        along, started a note at a 3× rise.)

        Dev split: repick-soft repeats found 76.2 → 91.4 % (5× alone) → 98.1 % (with
        2.5× and the dip), fast-16ths 98.4 → 100 %, timing 96.8 → 98.9 → 100 %; no
        condition's precision, names or first names worse. On 32 seeds each of
        repick-soft and fast-16ths, 1262 → 1279 of 1308 re-picks with the 2.5× rises, no
        note added; seeds 4–23 of 15 other conditions, sustain and sustain-beating among
        them, unchanged; the real notes too.
        """
        pending = self._flux_pending
        found = None
        if pending is not None:
            self._flux_hops += 1
            self._flux_dipped = self._flux_dipped or confidence < _QUIET_DIP
            note = self._note
            if rms_db < pending.level_db - _FLUX_FALL_DB:
                self._flux_pending = None
            elif self._flux_hops >= _FLUX_CONFIRM_HOPS:
                self._flux_pending = None
                if (
                    note is not None
                    and note.reported is not None
                    and (pending.strong or (pending.sure and self._flux_dipped))
                    and rms_db >= note.peak_db - _FLUX_BELOW_PEAK_DB
                    and self._reads_pitch_of(note)
                ):
                    found = pending.onset_s
        floor = _FLUX_FLOOR * self._note.flux if self._note is not None else 0.0
        rose = self._flux_rose(flux, floor)
        # (The flicker before this hop's flux joins the history: only on a rise.)
        if rose and self._flux_pending is None and flux >= _FLUX_OVER_FLICKER * self._flicker():
            sure = self._steady[1] >= _QUIET_SURE  # (the hop before this one)
            self._flux_pending = _FluxRise(
                self._novelty_onset(start), self._levels[-2][1], rose > 1, sure
            )
            self._flux_hops = 0
            self._flux_dipped = False
        elif rose > 1 and self._flux_pending is not None and self._flux_hops <= 1:
            self._flux_pending = replace(self._flux_pending, strong=True)
        self._fluxes.append(flux)
        return found

    def _reads_pitch_of(self, note: _Note) -> bool:
        """YIN over the last 21 ms reads ``note``'s pitch surely, or a harmonic of it (a
        window this short reads low notes an octave or a twelfth up)."""
        if self._low_tuned(note.ref):
            return self._reads_low(note)
        freq = float(self._early_pitch(self._early_window())[0])
        if freq <= 0 or self._early_pitch.get_confidence() < _WEAK_EARLY_CONFIDENCE:
            return False
        return _same_or_harmonic(69.0 + 12.0 * math.log2(freq / self._a4) - note.ref)

    def _reads_low(self, note: _Note) -> bool:
        """_reads_pitch_of for a note under C2 (see _low_tuned), on this hop's reading of the
        main window (43 ms, down to 47 Hz): the 21 ms one reaches down to 94 Hz, and on an
        A1 read its 5th partial with a confidence of 0.6, never sure, so no soft re-pick of
        a low string was confirmed (dev drop-A seeds 0–11: 1 of 2 re-picks missed, both
        on sampled A1s)."""
        midi, confidence = self._read
        if not confidence >= _WEAK_EARLY_CONFIDENCE:
            return False
        return _same_or_harmonic(midi - note.ref)

    def _dip_and_rise(self, rms_db: float, descriptor: float) -> bool:
        """The level rose ``_REPLUCK_RISE_DB`` within three hops out of a dip at least
        ``_REPLUCK_DIP_DB`` deep, and the spectrum changed more than at the dip. An
        overdriven low string re-picked dips ~5 dB and takes three hops to rise 4.5–6 dB
        back (two hops and 5 dB missed them: dev seeds 12–23 and 30–56, distortion +5
        notes, noise-10dB +4, let-ring 2 extra gone, one drop-D re-pick named a third
        off)."""
        note = self._note
        if note is not None and self._low_tuned(note.ref):
            return self._low_dip_and_rise(descriptor)
        recent = self._levels
        if len(recent) >= _DIP_HOPS:
            # Most hops of a note do not rise that much over either hop the dip may be in
            # (the last ``_REPLUCK_RISE_HOPS`` before this one, written out: most hops ask).
            dip = min(recent[-2][1], recent[-3][1], recent[-4][1])
            if rms_db - dip < _REPLUCK_RISE_DB:
                return False
        levels = [db for _, db in self._levels][-_DIP_HOPS:]
        return self._dipped_and_rose(levels, rms_db, descriptor)

    def _low_dip_and_rise(self, descriptor: float) -> bool:
        """_dip_and_rise over a note under C2 (see _low_tuned), each hop's level taken with
        the hop before's (see _paired_db): a hop (10.7 ms) holds 0.6 of A1's period and
        0.66 of B1's, and its level swings with the part of the period it holds, 4–8 dB
        hop to hop on a steady sampled A1, which read as dips and rises: re-picks every
        0.05–0.3 s (dev drop-A seeds 0–11, 12 extra notes)."""
        levels = _paired_db([db for _, db in self._levels])[-_DIP_HOPS:]
        return self._dipped_and_rose(levels, levels[-1], descriptor)

    def _dipped_and_rose(self, levels: list[float], rms_db: float, descriptor: float) -> bool:
        """The test of _dip_and_rise on the last hops' ``levels`` (dB, this hop's last)."""
        changes = list(self._novelty)[-_DIP_HOPS:]
        if len(levels) < _DIP_HOPS:
            return False
        k = _dip_index(levels)
        dip, changed = levels[k], changes[k]
        depth = max(levels[:k]) - dip
        return (
            rms_db - dip >= _REPLUCK_RISE_DB
            and depth >= _REPLUCK_DIP_DB
            and (descriptor >= _REPLUCK_NOVELTY * changed or depth >= _DEEP_DIP_DB)
        )

    def _shallow_repick(self, note: _Note, rms_db: float) -> bool:
        """A re-pick of the sounding note that dips the level ``_SHALLOW_DIP_DB`` and
        raises it ``_SHALLOW_RISE_DB`` within three hops (too little for _dip_and_rise),
        when the waveform shows it: this hop's 10 ms repeat the audio whole periods
        before it no better than ``_RESET_DB`` (the pick set the string vibrating anew,
        see _goes_on), while 30–40 ms before, the note repeated its own period within
        ``_WENT_ON_DB`` (strings ringing together repeat no one period, and their beats
        dip and rise as much: 118 such rises on 30 dev let-ring seeds read as reset; one
        went on before), and the last 21 ms read the sounding pitch (see
        _reads_pitch_of: a new pitch is the other tests' to hear; taken here, it moved
        onsets of dev fast-16ths notes by a block or two).

        Distortion and fuzz clip the level flat: an overdriven string re-picked dips
        ~2–4 dB and rises as much, and a fuzz's not at all. Measured over 31 dev
        distortion seeds and three fuzz fast-16ths clips (``bench.pedals``): every such
        rise near a pick read as reset (after > −3 dB), none away from one, and a
        tremolo's swells went on (39 of 43 under −3 dB); with the check before, such
        rises took 14 notes of fuzz fast-16ths and ~36 of distortion, where other tests
        mostly heard them too (see docs/tracker.md)."""
        levels = [db for _, db in self._levels][-_DIP_HOPS:]
        if len(levels) < _DIP_HOPS:
            return False
        k = _dip_index(levels)
        dip = levels[k]
        if rms_db - dip < _SHALLOW_RISE_DB or max(levels[:k]) - dip < _SHALLOW_DIP_DB:
            return False
        audio = self._goes_on_audio()
        n = len(audio)
        tau = self._half_rate_period(note.ref)
        hop = n - HOP_SIZE // _DECIMATION  # this hop's first sample
        before = hop - _GOES_ON_MARGIN
        reset = _repeat_near(audio, n - _GOES_ON_WINDOW, n, before, tau)
        if not reset > _RESET_DB:  # (NaN: not asked)
            return False
        end = hop - _WENT_ON_BEFORE
        went_on = _repeat_near(audio, end - _GOES_ON_WINDOW, end, end - _GOES_ON_WINDOW, tau)
        return went_on < _WENT_ON_DB and self._reads_pitch_of(note)

    def _clicked(self, number: int) -> tuple[float, float] | None:
        """A pick's click in hop ``number`` (1 the stream's first), (time, the hop's loudest
        block): a 2.7 ms block of the second difference (the audio's top octaves, where a
        ringing note has little and a pick's transient a lot) ``_CLICK_RISE_DB`` over the
        loudest of the six blocks before the two that precede it. A re-pick 3–12 dB softer
        than the string it stops moves the level and the spectrum's magnitudes too little
        for the tests above; its click can still stand out. A decay, beating, vibrato or a
        reverb's tail has no such edge (on dev at most 4 dB; on the real notes, a mic's
        clicks under a ringing string, 8 dB).

        Asked for only by the decisions that read it (see _click_blocks): most hops, in
        silence or far under a note's peak, never are."""
        history = [*self._click_blocks(number - 2), *self._click_blocks(number - 1)]
        blocks = self._click_blocks(number)
        loudest = max(blocks)
        # Every block's reference includes the 4th-6th blocks of the history: most hops
        # are cleared by them alone.
        if not (loudest >= self._click_rise * max(history[3], history[4], history[5])
                and loudest > 0.0):  # fmt: skip
            return None
        sequence = [*history, *blocks]
        span = len(sequence) - _BLOCKS
        for k, block in enumerate(blocks):
            i = span + k
            if block >= self._click_rise * max(sequence[i - 8 : i - 2]) and block > 0.0:
                # The first sample above half the block's RMS, from two blocks earlier
                # (within this hop): where the click begins.
                edges = self._click_edges(number)
                first = max(k - _GAP_BLOCKS, 0) * _BLOCK
                threshold = 0.5 * math.sqrt(block / _BLOCK)
                above = np.flatnonzero(np.abs(edges[first : (k + 1) * _BLOCK]) >= threshold)
                at = first + (int(above[0]) if above.size else k * _BLOCK - first)
                return ((number - 1) * HOP_SIZE + at) / self._rate, loudest
        return None

    def _loudest_click(self) -> float:
        """The loudest block of this hop's second difference (see _clicked)."""
        return max(self._click_blocks(self.hops))

    def _click_blocks(self, number: int) -> list[float]:
        """The second difference's energy in each 2.7 ms block of hop ``number`` (zeros
        before the stream), computed when first asked for and kept for the next hops.

        The click test ran on every hop (~4 µs); its result is read only over a named note
        near its peak, at a note's first hops and at a swell's edge. Hop ``number`` is one
        of the last ``_RECENT_HOPS`` − 1 kept (the hop before it is read too; a decision
        reads the last four at most)."""
        if number < 1:
            return _NO_CLICKS
        kept = self._click_kept
        for at, blocks in kept:
            if at == number:
                return blocks
        self._click_edges(number)
        # (``np.add.reduce`` is what ``.sum`` calls, without its Python wrapper.)
        blocks = np.add.reduce(self._edge_blocks, 1).tolist()
        kept.append((number, blocks))
        return blocks

    def _click_edges(self, number: int) -> np.ndarray:
        """The second difference of hop ``number`` (the hop before's last two samples
        first; the stream's first hop is its own before), and its square, in buffers kept
        across hops: the same float32 values as ``x[2:] - 2.0 * x[1:-1] + x[:-2]`` (x + x is
        2x exactly)."""
        recent = self._recent
        back = self.hops - number  # 0: this hop
        hop = recent[-1 - back]
        previous = recent[-2 - back] if number > 1 else hop
        head, after, middle, before = self._click_views
        np.copyto(head, previous[-2:])
        np.copyto(after, hop)
        edges = np.add(middle, middle, self._edges)
        np.subtract(after, edges, edges)
        np.add(edges, before, edges)
        np.square(edges, self._edge_squares)
        return edges

    def _repicked(self, note: _Note) -> bool:
        """hfc's onset is a re-pick when, over the last five hops (its peak picker decides
        ~4 hops late), the spectrum changed ``_REPICK_NOVELTY`` times its median over the
        hops before them, and the level rose ``_REPICK_RISE_DB`` to within
        ``_REPICK_BELOW_PEAK_DB`` of the note's peak (a sustained real note 20 dB into its
        decay wobbles that much; a re-pick brings the level back up)."""
        history = list(self._novelty)
        before = sorted(history[:-_REPICK_HOPS])
        if not before or max(history[-_REPICK_HOPS:]) < _REPICK_NOVELTY * before[len(before) // 2]:
            return False
        levels = [db for _, db in self._levels][-6:]
        low = min(levels[:3])
        high = max(levels[3:])
        return high >= low + _REPICK_RISE_DB and high >= note.peak_db - _REPICK_BELOW_PEAK_DB

    def _building(self, note: _Note, onset_s: float) -> bool:
        """``note``'s pluck was still building at ``onset_s``: within ``_BUILDING_S`` of
        its onset, and its level had not yet fallen ``_BUILDING_FALL_DB`` under its running
        peak on any hop up to there. An attack heard late by aubio's ``hfc`` there is that
        pluck's, not a re-pick: a string peaks within ~20 ms of its pick and then decays,
        and a re-pick lands on a note already decaying. The tuning half's Yamaha E2
        re-plucked (``bench.realaug``) rose in two steps 48 ms apart, level then rising;
        the first was named as the re-pluck (its label), the second taken as another note
        54 ms later."""
        if not 0.0 < onset_s - note.onset_s <= _BUILDING_S:
            return False
        peak = -math.inf
        for t, db in self._levels:
            if t <= note.onset_s:
                continue
            if t > onset_s + self._hop_s:
                break
            peak = max(peak, db)
            if db < peak - _BUILDING_FALL_DB:
                return False
        return peak > -math.inf

    def _quiet_repick(
        self,
        note: _Note,
        start: int,
        rms_db: float,
        descriptor: float,
        midi: float,
        confidence: float,
        now: float,
    ) -> bool:
        """A re-pick of the sounding pitch that the level does not show (the pick damps the
        string and plucks it no louder): the spectrum changes ``_QUIET_NOVELTY`` times its
        median while the pitch held steady and sure, then YIN's confidence dips (the pick's
        transient breaks the period) and recovers on the same pitch, at a level not falling
        away (a note let go does not recover), while the change is still young enough to be
        named by the report deadline."""
        pending = self._repick
        if pending is None:
            previous_midi, previous_conf = self._steady
            if (
                note.reported is not None
                and descriptor >= _QUIET_NOVELTY * self._background + 1e-9
                and previous_conf >= _QUIET_SURE
                and abs(previous_midi - note.ref) < _QUIET_SAME
            ):
                onset_s = self._novelty_onset(start)
                if onset_s - self._last_attack_s >= _SAME_ATTACK_S:
                    self._repick = (onset_s, rms_db)
                    self._repick_hops = 0
                    self._repick_dipped = confidence < _QUIET_DIP
            return False
        self._repick_hops += 1
        if confidence < _QUIET_DIP:
            self._repick_dipped = True
        elif (
            self._repick_dipped
            and confidence >= _QUIET_SURE
            and abs(midi - note.ref) < _QUIET_SAME
            and rms_db >= pending[1] - _QUIET_FALL_DB
            and now - pending[0] <= _REPORT_DEADLINE_S  # (still time to name it)
        ):
            return True
        if self._repick_hops >= _QUIET_HOPS:
            self._repick = None
        return False

    def _tail_of_previous(self, midi: float, now: float) -> bool:
        """``midi`` is the last note's pitch (or an octave of it), within 2.5 s of its end:
        the string still ringing after its level sank into the room (which ended the note),
        not a note that crept in. A phone's room can sit 3 dB under a sustained note's tail
        while YIN still reads the string surely; without an attack the tail started a
        short note of the same pitch (the ``rung into`` allowance let it stand out). So
        does a reading that is the last note still (see _harmonic_jump): a high note's tail
        in mains hum reads as a period common to both, 5–16 times the note's (a ninth of
        D5 over 60 Hz), and started a note at C2 ~0.1 s before the next pluck (dev seeds
        4–15 of *hum*: extra notes 5 → 1 with this, 10 before _harmonic_jump's
        sub-harmonics; no other figure of 11 conditions, the dev split or the real notes
        moved)."""
        previous = self._previous
        return (
            previous is not None
            and now - previous[1] <= _RINGING_S
            and (
                _pitch_class_distance(midi, previous[0]) < _TAIL_SEMITONES
                or _harmonic_jump(midi - previous[0])
            )
        )

    def _crept_in(self, midi: float, now: float) -> float | None:
        """Where a note read surely (``midi``) with no note sounding and no attack heard
        began: where the level rose, or a hop ago; None when it is the last note's tail
        (see _tail_of_previous) and was not picked again (see _picked_again), or under
        C2 (see _needs_attack)."""
        if self._needs_attack(midi):
            return None
        if self._tail_of_previous(midi, now):
            return self._picked_again(now)
        return self._rise_s if now - self._rise_s < _GIVE_UP_S else now - self._hop_s

    def _picked_again(self, now: float) -> float | None:
        """The start of the first hop whose whitened flux (see _whitened_flux) rose
        ``_FLUX_RATIO`` times the median of the last 8 hops, when the level rose
        ``_TAIL_REPICK_RISE_DB`` there (the loudest of the last 4 hops over the quietest of
        the 4 before them): a pick, not a tail; else None.

        A string ringing on, once its note has ended, only decays (or beats a few dB), and
        its whitened flux stays flat; a pick restores its decayed upper partials. Under
        strings left ringing, a re-pick of the note that a dropped (unpitched) sound cut
        short, with no attack heard, was refused as that note's tail though its level rose
        7.7 dB and its flux 8.6× (dev let-ring seed 49, F#3 at 3.557 s).
        """
        levels = [db for _, db in self._levels][-_TAIL_REPICK_HOPS:]
        half = _TAIL_REPICK_HOPS // 2
        if len(levels) < _TAIL_REPICK_HOPS or max(levels[half:]) - min(levels[:half]) < (
            _TAIL_REPICK_RISE_DB
        ):
            return None
        fluxes = list(self._fluxes)
        if not fluxes:
            return None
        floor = _FLUX_RATIO * sorted(fluxes)[len(fluxes) // 2] + 1e-9
        for k, flux in enumerate(fluxes):
            if flux >= floor:
                return now - (len(fluxes) - k) * self._hop_s
        return None

    def _rising(self) -> bool:
        """The level of this hop or the one before rose over the quietest of the three
        hops before them (``_levels`` already holds this hop): an attack adds energy; a
        note letting go, a fade or a sample's loop does not."""
        levels = self._levels
        if len(levels) < 3:
            return True
        now, last = levels[-1][1], levels[-2][1]
        if now < last - _NOVELTY_RISE_DB:
            return False  # falling now: the change is the sound stopping
        before = min(db for _, db in list(levels)[-5:-2])
        return max(now, last) >= before + _NOVELTY_RISE_DB

    def _novelty_onset(self, start: int) -> float:
        """Where an attack began in this hop or the one before: the 2.7 ms block of the
        differenced audio (a pick's click stands out of a low note there) whose energy rose
        most over the block before it; else the start of the louder of the two hops."""
        recent = self._recent
        audio = np.concatenate((recent[-2], recent[-1])) if len(recent) > 1 else recent[-1]
        first = start + HOP_SIZE - len(audio)
        # ``np.diff(audio, prepend=audio[0])`` without its broadcast and concatenation.
        edges = np.empty_like(audio)
        np.subtract(audio[:1], audio[:1], edges[:1])
        np.subtract(audio[1:], audio[:-1], edges[1:])
        blocks = np.square(edges, edges).reshape(-1, _BLOCK).sum(axis=1).tolist()
        best, at = self._block_rise, -1
        for k in range(1, len(blocks)):
            rise = blocks[k] / (blocks[k - 1] + 1e-12)
            if rise > best:
                best, at = rise, k
        if at >= 0:
            return (first + at * _BLOCK) / self._rate
        levels = self._levels
        if (
            len(recent) > 1
            and len(levels) > 2
            and levels[-2][1] - levels[-3][1] > levels[-1][1] - levels[-2][1]
        ):
            return first / self._rate
        return start / self._rate

    # -- notes --------------------------------------------------------------------------

    def _attack(
        self,
        attack_s: float,
        level_db: float,
        now: float,
        events: list[NoteEvent],
        began_s: float = math.nan,
    ) -> None:
        """A note heard at ``attack_s`` (reported as beginning at ``began_s`` when given:
        the note is still analysed from where it was heard, as if not re-timed)."""
        self._last_attack_s = attack_s
        self._ringing_from = attack_s + _ATTACK_NOVELTY_S  # (see _flicker)
        self._repick = None
        note = self._note
        if note is not None:
            louder = level_db - note.peak_db >= _BLIP_DB
            restart = note.reported is None and (
                level_db - note.peak_db >= _RESTART_DB
                or note.peak_db - note.trough_db >= _RESTART_DIP_DB
            )
            if attack_s - note.onset_s < _SAME_ATTACK_S and not (louder or restart):
                return  # two triggers for one attack: keep the earlier time
            if (
                note.reported is not None
                and attack_s - note.onset_s < _BLIP_S
                and louder
                and not self._restruck(note)
            ):
                self._note = None  # a faint blip right before a real pluck
            else:
                self._finish(attack_s, events)
        over = note.ref if note is not None and note.reported is not None else math.nan
        touch_s = self._touch_before(note)
        if touch_s == touch_s:
            # (An unnamed note has no period to break: ``began_s`` is at most the attack.)
            dated = self._touched(touch_s, attack_s)
            began_s = dated if dated == dated else began_s
        self._note = _Note(
            self._next_index, attack_s, level_db, began_s=began_s, trough_db=level_db, over=over
        )
        self._note.touch_s = touch_s
        self._note.from_room = note is None or (note.reported is None and note.from_room)
        self._note.before = self._audio_before(attack_s)
        self._attack_click = 0.0
        self._note.body_from = attack_s + _BODY_SKIP_S
        self._next_index += 1
        self._quiet_frames = 0

    def _touch_before(self, pending: _Note | None) -> float:
        """Where a pick's touch began, when the attack now heard restarts ``pending``,
        still unnamed, and ``pending`` is that touch (or a later part of its pluck): a
        sound that began with no note sounding (or restarted unnamed sounds that did) and
        fell ``_TOUCH_FALL_DB`` from its peak, a click gone again. NaN otherwise.

        A pick resting on or scraping the string makes a click with little of the
        string's partials, 50–90 ms before the pluck; on the real notes' tuning half, hand
        labels put the note's onset there on 6 clips, 5 of whose touches fell 11–24 dB
        before the pluck (a sound holding or rising into the pluck, which fell at most
        8 dB, is labelled at the pluck on 4 others; one click that fell 19 dB is too). At
        12 dB one of the five was missed at 44.1 kHz (11.5 dB there: a click's hop level
        moves with the hop boundaries). The tracker names the note from the pluck; only
        the onset reported moves (see _touched). The fall is the deepest since the touch
        (``fell_db``), not from the latest peak: a scrape swelling over the click's level
        just before the pluck hid it (a real A2 of the tuning half played 25 dB quieter,
        where the gate kept that swell from triggering: dated from the pluck, 72 ms late).
        """
        if pending is None or pending.reported is not None:
            return math.nan
        if pending.touch_s == pending.touch_s:
            return pending.touch_s
        if pending.from_room and pending.fell_db >= _TOUCH_FALL_DB:
            return pending.onset_s
        return math.nan

    def _touched(self, touch_s: float, attack_s: float) -> float:
        """``touch_s`` when the sound from there to the pluck heard at ``attack_s`` never
        sank back to within ``_TOUCH_ROOM_DB`` of the room (one sound: a pick's touch, then
        its pluck) and the pluck came within ``_TOUCH_S``; else NaN. Only audio already
        heard is read: the note's report is not delayed."""
        if not 0.0 < attack_s - touch_s <= _TOUCH_S or len(self._history_db) < _NOISE_MIN_HOPS:
            return math.nan  # (the room not measured yet: a stream that opened mid-sound)
        audio = np.concatenate(self._lookback)
        rate = self._half_rate
        before = self._samples // _DECIMATION - len(audio)  # stream sample of audio[0]
        b = _BLOCK // _DECIMATION
        first = round(touch_s * rate) - before
        last = round(attack_s * rate) - before
        if first < 0 or last > len(audio) or last - first < b:
            return math.nan
        count = (last - first) // b
        blocks = np.square(audio[last - count * b : last]).reshape(count, b).mean(axis=1)
        floor = 10.0 ** ((self._noise_db + _TOUCH_ROOM_DB) / 10.0)
        return touch_s if float(blocks.min()) >= floor else math.nan

    def _restruck(self, note: _Note) -> bool:
        """``note`` re-picked the named note its attack cut short, at that note's pitch,
        and its level never fell 15 dB under its peak (or the flux confirmed it: see
        _flux_repick), so it is no pick's touch before a louder pluck (see _drop_blips),
        however loud the pick after it: a touch stops the string (its level collapses),
        a re-pick sounds it again. A re-pick in a run of 16ths is often 12 dB under the
        run's first pick, and the next run's first pick then peaks 15 dB over it. On dev
        repick-soft and fast-16ths (32 seeds each) 1237 → 1257 of 1308 re-picks kept
        (9 of them by the flux's own confirmation), no note added; no real note changed."""
        return note.restruck or (
            abs(note.ref - note.over) < _QUIET_SAME
            and note.peak_db - note.trough_db < _FLUX_FALL_DB
        )
