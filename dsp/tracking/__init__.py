"""The note tracker's parts (see :mod:`dsp.tracker`, which puts them together).

The tracker is one causal state machine over one shared state: the level and spectrum
history, the audio kept, the sounding note. Its rules are split by the question they
answer into base classes of :class:`dsp.tracker.NoteTracker`; each works on that state
(``self``) and none is used alone. The tuned numbers are in :mod:`dsp.tracking.constants`
with the measurement behind each; pure functions of audio and of pitch are in
:mod:`dsp.tracking.audio` and :mod:`dsp.tracking.pitches`.
"""
