"""Text-to-speech voices for the coach's tips: one interface (:mod:`coach.voices.base`) and
one small module per backend (OpenAI's speech endpoint, espeak-ng)."""
