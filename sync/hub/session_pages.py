"""The signed-in user's sessions as web pages: ``/sessions`` and ``/sessions/{session_id}``.

Plain HTML rendered on the server, pictures as inline SVG (:mod:`sync.hub.plots`), no
script. A page shows only the signed-in user's own sessions: every read is keyed by the
user from the sign-in cookie, so another user's session id is a 404, the same answer as
an id nobody has (it never tells that the id exists). Every stored string is escaped.
"""

from __future__ import annotations

import html
from typing import Any
from uuid import UUID

from anyio import to_thread
from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from dsp.errors import UnknownScaleError
from dsp.scales import parse_scale
from sync.hub import web
from sync.hub.account_routes import sign_in_form
from sync.hub.models import MAX_NOTES, NoteEvent, SessionOut
from sync.hub.plots import ScorePoint, pitch_plot, score_plot
from sync.hub.storage import HubStore

router = APIRouter(tags=["pages"])

LISTED_SESSIONS = 200  # the newest; a page of a few tens of KB even for a year of practice


def _minutes(seconds: float) -> str:
    """A duration in minutes to a tenth; a duration no practice lasts (any finite number
    is stored) in three figures, not the 300 digits ``.1f`` spells 1e308 s out in."""
    minutes = seconds / 60.0
    return f"{minutes:.1f}" if minutes < 1e6 else f"{minutes:.3g}"


def offset_words(mean_offset_ms: float | None) -> str:
    """The metronome offset as a player says it: negative is early, so rushing."""
    if mean_offset_ms is None:
        return "no metronome offset (free tempo, or no note near a click)"
    ms = round(abs(mean_offset_ms))
    if ms == 0:
        return "on the click (within 1 ms on average)"
    return f"{'rushing' if mean_offset_ms < 0 else 'dragging'} by {ms} ms"


def _score(value: float | None) -> str:
    return "off" if value is None else f"{value:.2f}"


def _when(session: SessionOut) -> str:
    return f"{session.start_timestamp:%Y-%m-%d %H:%M} UTC"


def _href(session: SessionOut) -> str:
    return f"/sessions/{session.session_id}"


def _nav() -> str:
    return '<nav><a href="/sessions">Your sessions</a><a href="/device">Your devices</a></nav>'


def _not_found() -> HTMLResponse:
    body = f'{_nav()}<p id="message">No such session of yours.</p>'
    return web.page("Session not found", body, status=404)


def _sign_in_first() -> HTMLResponse:
    form = sign_in_form(message="sign in to see your sessions", then="sessions")
    return web.page("Sign in", form)


def _list_body(user_id: str, sessions: list[SessionOut]) -> str:
    parts = [f"<p>Signed in as <b>{html.escape(user_id)}</b>.</p>", _nav()]
    if not sessions:
        parts.append(
            '<p id="message">No sessions yet: pair a device and play; its sessions appear '
            "here once it syncs.</p>"
        )
        return "".join(parts)
    points = [
        ScorePoint(
            when=s.start_timestamp,
            pitch_accuracy=s.pitch_accuracy,
            scale_conformity=s.scale_conformity,
            timing_stability=s.timing_stability,
            href=_href(s),
            label=f"{_when(s)}, {s.scale_chosen}",
        )
        for s in sessions
    ]
    parts.append(score_plot(points))
    if len(sessions) >= LISTED_SESSIONS:
        parts.append(f'<p class="note">The newest {LISTED_SESSIONS} sessions.</p>')
    rows = [
        "<tr><th>Started</th><th>Scale</th><th>Pitch</th><th>Scale fit</th><th>Timing</th>"
        "<th>Notes</th><th>Minutes</th></tr>"
    ]
    for s in sessions:
        rows.append(
            f'<tr class="session" id="session-{html.escape(str(s.session_id))}">'
            f'<td><a href="{html.escape(_href(s))}">{html.escape(_when(s))}</a></td>'
            f"<td>{html.escape(s.scale_chosen)}</td><td>{_score(s.pitch_accuracy)}</td>"
            f"<td>{_score(s.scale_conformity)}</td><td>{_score(s.timing_stability)}</td>"
            f"<td>{s.total_notes_played}</td><td>{_minutes(s.duration_seconds)}</td></tr>"
        )
    parts.append('<table id="sessions">' + "".join(rows) + "</table>")
    return "".join(parts)


@router.get("/sessions", response_class=HTMLResponse, summary="Your sessions, with a score plot")
async def sessions_page(request: Request) -> Any:
    who = await web.signed_in(request)
    if who is None:
        return _sign_in_first()
    store: HubStore = request.app.state.store
    sessions = await to_thread.run_sync(
        lambda: store.sessions_of(who.user_id, limit=LISTED_SESSIONS)
    )
    return web.page("Your sessions", _list_body(who.user_id, sessions), wide=True)


def _notes_picture(session: SessionOut, notes: list[NoteEvent] | None) -> str:
    if notes is None:
        return (
            '<p id="no-notes">The device sent no notes with this session (a session of more '
            f"than {MAX_NOTES} notes is sent without them), so there is no picture.</p>"
        )
    if not notes:
        return '<p id="no-notes">No notes were played in this session.</p>'
    try:
        scale = parse_scale(session.scale_chosen)
    except UnknownScaleError:  # stored by a Hub that knew a scale this one does not
        return f'<p id="no-notes">Unknown scale {html.escape(session.scale_chosen)!r}.</p>'
    return pitch_plot(notes, scale, duration_s=session.duration_seconds)


def _session_body(session: SessionOut, notes: list[NoteEvent] | None) -> str:
    facts = [
        ("Started", _when(session)),
        ("Scale", session.scale_chosen),
        ("Minutes", _minutes(session.duration_seconds)),
        ("Status", session.status),
        ("Pitch accuracy", _score(session.pitch_accuracy)),
        ("Scale conformity", _score(session.scale_conformity)),
        ("Timing stability", _score(session.timing_stability)),
        (
            "Notes",
            f"{session.total_notes_played} ({session.correct_notes_played} good, "
            f"{session.bad_notes_played} bad)",
        ),
        ("Tempo", "free" if session.bpm is None else f"{session.bpm:g} bpm"),
        ("Metronome", offset_words(session.mean_offset_ms)),
        ("Device", session.device_id),
    ]
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in facts)
    parts = [_nav(), f'<table id="facts">{rows}</table>']
    if session.coach_summary:
        parts.append(f'<h2>Coach</h2><p id="summary">{html.escape(session.coach_summary)}</p>')
    parts.append("<h2>Notes</h2>")
    parts.append(_notes_picture(session, notes))
    return "".join(parts)


@router.get("/sessions/{session_id}", response_class=HTMLResponse, summary="One of your sessions")
async def session_page(request: Request, session_id: str) -> Any:
    who = await web.signed_in(request)
    if who is None:
        return _sign_in_first()
    try:
        key = str(UUID(session_id[:64]))  # stored lower-case and hyphenated
    except ValueError:
        return _not_found()
    store: HubStore = request.app.state.store
    found = await to_thread.run_sync(store.session_of, who.user_id, key)
    if found is None:
        return _not_found()
    session, notes = found
    title = f"Session of {_when(session)}"
    return web.page(title, _session_body(session, notes), wide=True)
