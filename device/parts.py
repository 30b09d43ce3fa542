"""What the daemon needs from its optional parts: the display, the live coach, the speaker
and the AI-mode recommender, each as a Protocol of the methods it calls.

The real classes (``display.device.DisplayWorker``, ``coach.LiveCoach``, the coach's
``Speaker`` and ``Recommender``) satisfy these by shape; tests may pass anything that does.
The buttons' interface is :class:`device.buttons.Buttons`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from coach.recommend import PracticeHistory, Recommendation
    from coach.tips import MetricSnapshot, Tip
    from display.state import ScreenState


class Display(Protocol):
    """Draws screen states on its own thread; :meth:`show` never blocks."""

    def show(self, state: ScreenState) -> None: ...

    def close(self, final: ScreenState | None = None) -> None: ...


class Coach(Protocol):
    """Live tips and session summaries; every call returns at once except the waits."""

    # Called (on the coach's thread) when a tip or summary is ready: the daemon redraws.
    on_update: Callable[[], None] | None

    def maybe_request(
        self,
        session_id: str,
        snapshot: MetricSnapshot,
        stream_s: float,
        paused: bool,
        *,
        ai_mode: bool = False,
    ) -> None: ...

    def latest(self, session_id: str) -> Tip | None: ...

    def tip_on_screen(self, session_id: str) -> Tip | None: ...

    def request_summary(
        self,
        session_id: str,
        snapshot: MetricSnapshot,
        duration_s: float,
        *,
        ai_mode: bool = False,
    ) -> None: ...

    def summary(self, session_id: str) -> Tip | None: ...

    def set_interval(self, interval_s: float) -> None: ...

    def feedback(self, session_id: str, *, thumbs_up: bool) -> bool: ...

    def wait_idle(self, timeout: float) -> bool: ...

    def close(self, timeout: float = 3.0) -> bool: ...


class Speaker(Protocol):
    """Speaks tips on its own thread; :meth:`say` returns at once."""

    def say(self, text: str, *, session_id: str, ai_mode: bool = False) -> bool: ...

    def cancel(self) -> None: ...

    def wait_idle(self, timeout: float) -> bool: ...

    def close(self, timeout: float = 2.0) -> bool: ...


class Recommender(Protocol):
    """AI mode's next-session plan from the practice history (called on a worker thread)."""

    def recommend(
        self, history: PracticeHistory, *, practice_id: str | None = None
    ) -> Recommendation: ...


@dataclass(frozen=True, slots=True)
class PairingOffer:
    """A Hub the settings screen may pair this device with (RFC 8628, from the screen):
    its address, and what verifies its certificate (True: the system's CAs, or a CA
    bundle's path)."""

    hub_url: str
    verify: bool | str = True
