"""The offline coach: a useful tip from the numbers alone, with no key and no network.

It follows the family's shape — "[what's good], but [what's weak] – [specific fix]" — and
picks the fix from the weakest metric: pitch → finger pressure and clean fretting (naming
the note most often out of tune), scale → positions (naming the note that slips out),
timing → a metronome at a slow tempo, counting. When every metric is strong it sets a
small challenge instead. Wording varies with the ``rng`` it is given.

It never contradicts the numbers: every percentage comes from the snapshot, rounded as
the screen rounds it, and each word of praise or blame has a threshold ("strong" is 85 %
and up, "needs work" below 50 %). Every tip is at most 30 words.
"""

from __future__ import annotations

import random

from coach.prompts import duration_text, notes_text
from coach.tips import METRIC_NAMES, MetricSnapshot, percent
from coach.validate import MAX_WORDS, word_count

OFFLINE_MODEL = "offline-coach"
STRONG = 0.85
DECENT = 0.6
WEAK = 0.5


def offline_tip(snapshot: MetricSnapshot, *, rng: random.Random | None = None) -> str:
    """A tip of at most 30 words about ``snapshot``; ``rng`` varies the wording."""
    rng = rng or random.Random()
    measured = snapshot.measured()
    weakest, strongest = snapshot.weakest(), snapshot.strongest()
    if weakest is None or strongest is None:
        return _fit(
            [
                f"No scores yet – play clear, separate notes in {snapshot.scale_name} "
                "so I can hear each one."
            ]
        )
    if weakest[1] >= STRONG:
        shown = ", ".join(f"{_short(k)} {percent(v)}%" for k, v in measured)
        head = rng.choice(["solid all round", "strong playing", "clean work everywhere"])
        return _fit([f"{shown}: {head} – {c}." for c in _challenges(snapshot, rng)])
    fixes = _fixes(weakest[0], snapshot, rng)
    if len(measured) == 1:
        key, value = measured[0]
        head = f"{METRIC_NAMES[key]} {_weak_phrase(value, rng)} {percent(value)}%"
        return _fit([f"{head} – {fix}." for fix in fixes])
    good_key, good = strongest
    weak_key, weak = weakest
    if good_key == weak_key:
        # Every score tied (all 0 % is common): the best is another metric, never the same
        # one twice ("Pitch Accuracy 0% and pitch accuracy 0% both need work").
        good_key, good = next((k, v) for k, v in measured if k != weak_key)
    if good < WEAK:
        # Nothing to praise: "pitch accuracy leads at 10%" read as praise for a poor take.
        both = (
            f"{METRIC_NAMES[good_key]} {percent(good)}% and "
            f"{METRIC_NAMES[weak_key].lower()} {percent(weak)}% both need work"
        )
        return _fit([f"{both} – {fix}." for fix in fixes])
    good_part = f"{METRIC_NAMES[good_key]} {_good_phrase(good, rng)} {percent(good)}%"
    weak_part = f"{METRIC_NAMES[weak_key].lower()} {_weak_phrase(weak, rng)} {percent(weak)}%"
    return _fit([f"{good_part}, but {weak_part} – {fix}." for fix in fixes])


def offline_summary(
    snapshot: MetricSnapshot, duration_s: float, *, rng: random.Random | None = None
) -> str:
    """A session summary (at most 60 words): what was played, then the tip for the session."""
    head = f"{duration_text(duration_s)} of {snapshot.scale_name}, {notes_text(snapshot.notes)}."
    return f"{head} {offline_tip(snapshot, rng=rng)}"


def _short(key: str) -> str:
    return METRIC_NAMES[key].split()[0]


def _good_phrase(value: float, rng: random.Random) -> str:
    if value >= STRONG:
        return rng.choice(["is strong at", "is excellent at", "looks great at"])
    if value >= DECENT:
        return rng.choice(["is decent at", "holds up at", "is solid at"])
    return rng.choice(["leads at", "is your best at"])  # (50-60 %: under 50, see above)


def _weak_phrase(value: float, rng: random.Random) -> str:
    if value < WEAK:
        return rng.choice(["needs work at", "is low at", "drops to"])
    if value < STRONG:
        return rng.choice(["lags at", "trails at", "slips to"])
    return "is at"


_OFFSET_WORTH_MS = 10.0  # a mean offset to the click this large is the tip's subject


def _fixes(metric: str, snapshot: MetricSnapshot, rng: random.Random) -> list[str]:
    """Candidate fixes for the weakest metric, most specific first within a shuffled set."""
    if metric == "pitch":
        note = snapshot.most_out_of_tune
        options = [
            "press just behind the fret and ease off once it rings"
            + (f", especially on {note}" if note else ""),
            "fret cleanly with your fingertip right behind the fret"
            + (f"; check your {note}" if note else ""),
            "use light, even finger pressure so notes don't bend sharp"
            + (f" – watch {note}" if note else ""),
        ]
        plain = ["press just behind the fret with even, light pressure"]
    elif metric == "scale":
        note = snapshot.most_out_of_scale
        scale = snapshot.scale_name
        options = [
            (f"{note} is outside {scale}; " if note else "")
            + "learn one position, then move to the next",
            "name each note as you play and shift positions slowly"
            + (f", leaving out {note}" if note else ""),
            f"map {scale} in one position, then the next"
            + (f"; {note} is not in it" if note else ""),
        ]
        plain = ["stay in one scale position before moving to the next"]
    else:
        slow = _slow_tempo(snapshot.bpm)
        options = [
            f"set a metronome to {slow} BPM and count 1-2-3-4 aloud",
            f"play one note per metronome click at {slow} BPM, counting out loud",
            f"slow down to {slow} BPM on a metronome and count every beat",
        ]
        plain = [f"use a metronome at {slow} BPM and count aloud"]
        offset = snapshot.mean_offset_ms
        if offset is not None and abs(offset) >= _OFFSET_WORTH_MS:
            # Played to the device's own click: say which way, the one thing to act on.
            rng.shuffle(options)
            ms = f"{abs(offset):.0f} ms"
            if offset < 0:
                return [f"you rush the click by {ms}: let each click land, then play", *options]
            return [f"you drag by {ms}: play right on the click, not after it", *options]
    rng.shuffle(options)
    return options + plain


def _challenges(snapshot: MetricSnapshot, rng: random.Random) -> list[str]:
    options = [
        "try the same scale one position higher up the neck",
        "play it in thirds at the same tempo",
        (
            f"try it at {snapshot.bpm + 5:g} BPM with a metronome"
            if snapshot.bpm is not None
            else "add a metronome and keep it locked in"
        ),
    ]
    rng.shuffle(options)
    return [*options, "keep it up"]


def _slow_tempo(bpm: float | None) -> int:
    """Three quarters of the current tempo, to the nearest 5, never below 40 (60 if unknown)."""
    if bpm is None:
        return 60
    return max(40, 5 * round(0.75 * bpm / 5))


def _fit(candidates: list[str]) -> str:
    """The first candidate within the word limit (the last ones are short on purpose)."""
    for text in candidates:
        if word_count(text) <= MAX_WORDS:
            return text[0].upper() + text[1:]
    shortest = min(candidates, key=word_count)
    return " ".join(shortest.split()[:MAX_WORDS])
