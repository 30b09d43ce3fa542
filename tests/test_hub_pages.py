"""The Hub's session pages and the SVG pictures on them.

The pictures are checked as drawings (parsed as XML: a mark's position says what it
shows); the pages against a real Hub process on 127.0.0.1, with sessions posted through
the ingest API by two users' devices and read back by a signed-in browser session
(``requests``). The same flow in a real browser is ``tests/test_hub_browser.py``.
"""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import requests

from dsp.scales import parse_scale
from sync.hub.plots import (
    LEFT,
    PLOT_H,
    PLOT_W,
    TOP,
    ScorePoint,
    nice_ticks,
    pitch_plot,
    score_plot,
)
from sync.hub.session_pages import offset_words
from sync.records import NoteRow
from tests.hubproc import HubProcess, fresh_tokens
from tests.test_hub_server import session_body, summary_body
from tests.test_pairing import PASSWORD, signed_in

SVG = "{http://www.w3.org/2000/svg}"


def _svg(text: str) -> ET.Element:
    """Parse a drawing; a stray unescaped ``<`` or ``&`` anywhere fails here."""
    return ET.fromstring(text)


def _with_class(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(SVG + tag) if cls in e.get("class", "").split()]


def _dots(path: ET.Element) -> list[tuple[float, float]]:
    """The (x, y) of each dot in a notes path (``M x yh0`` per note)."""
    moves = [m for m in path.get("d", "").split("M") if m]
    return [(float(m.split()[0]), float(m.split()[1].removesuffix("h0"))) for m in moves]


# --------------------------------------------------------------------------- the pictures

DAY0 = datetime(2026, 1, 1, 10, tzinfo=UTC)


def test_the_score_plot_puts_each_score_at_its_time_and_height() -> None:
    points = [
        ScorePoint(DAY0 + timedelta(days=3), 0.5, 0.25, None, href="/sessions/c"),
        ScorePoint(DAY0, 1.0, 0.0, 0.75, href="/sessions/a"),  # given out of order
        ScorePoint(DAY0 + timedelta(days=1), 0.0, 1.0, 0.5, href="/sessions/b"),
    ]
    root = _svg(score_plot(points))
    assert root.get("data-sessions") == "3"
    pitch = _with_class(root, "circle", "pitch_accuracy")
    xs = [float(c.get("cx", "")) for c in pitch]
    ys = [float(c.get("cy", "")) for c in pitch]
    # Oldest first, spaced by real time: day 1 is a third of the way from day 0 to day 3.
    assert xs == sorted(xs)
    assert (xs[1] - xs[0]) / (xs[2] - xs[0]) == pytest.approx(1 / 3, abs=0.01)
    assert ys == pytest.approx([TOP, TOP + PLOT_H, TOP + PLOT_H / 2], abs=0.1)  # 1.0, 0.0, 0.5
    # A metric that was off leaves no mark: two timing dots, one line through them.
    timing = _with_class(root, "circle", "timing_stability")
    assert len(timing) == 2
    [line] = _with_class(root, "polyline", "timing_stability")
    assert len(line.get("points", "").split()) == 2
    # Each session's dots link to its page, oldest first.
    links = [a.get("href") for a in root.iter(SVG + "a")]
    assert links == ["/sessions/a", "/sessions/b", "/sessions/c"]
    legend = {t.text for t in _with_class(root, "text", "legend")}
    assert legend == {"pitch accuracy", "scale conformity", "timing stability"}


def test_one_session_sits_in_the_middle_and_no_session_draws_an_empty_frame() -> None:
    root = _svg(score_plot([ScorePoint(DAY0, 0.9, 0.8, 0.7)]))
    [dot] = _with_class(root, "circle", "pitch_accuracy")
    assert float(dot.get("cx", "")) == pytest.approx(LEFT + PLOT_W / 2, abs=0.1)
    assert not list(root.iter(SVG + "polyline"))  # one point is no line
    empty = _svg(score_plot([]))
    assert empty.get("data-sessions") == "0" and not list(empty.iter(SVG + "circle"))


def test_the_pitch_plot_draws_the_scale_as_lines_and_each_note_at_its_pitch() -> None:
    scale = parse_scale("A Minor (Pentatonic)")  # A C D E G
    notes = [
        NoteRow(onset_s=0.0, midi=57, cents=0.0, in_scale=True),  # A3, on its line
        NoteRow(onset_s=5.0, midi=60, cents=50.0, in_scale=True),  # C4, a quarter-tone sharp
        NoteRow(onset_s=10.0, midi=59, cents=0.0, in_scale=False),  # B3, outside the scale
    ]
    root = _svg(pitch_plot(notes, scale, duration_s=10.0))
    assert (root.get("data-notes"), root.get("data-scale")) == ("3", "A Minor (Pentatonic)")
    lines = {int(e.get("data-midi", "")): e for e in _with_class(root, "line", "scale-line")}
    assert lines, "no scale lines"
    assert all(scale.contains(m) for m in lines)  # only the scale's notes
    assert {57, 60, 62} <= set(lines) and 59 not in lines and 58 not in lines
    assert {m % 12 for m in lines} == scale.pitch_classes  # an octave at least: all of it
    assert {m for m, e in lines.items() if "root" in e.get("class", "")} == {
        m for m in lines if m % 12 == 9
    }  # the A lines are the roots
    [inside] = _with_class(root, "path", "in-scale")
    [outside] = _with_class(root, "path", "out-of-scale")
    assert (inside.get("data-count"), outside.get("data-count")) == ("2", "1")
    (a_x, a_y), (c_x, c_y) = _dots(inside)
    [(b_x, b_y)] = _dots(outside)
    assert a_y == pytest.approx(float(lines[57].get("y1", "")), abs=0.1)
    # 50 cents sharp: halfway between C4's line and C#4 (one semitone above it).
    semitone = (float(lines[57].get("y1", "")) - float(lines[60].get("y1", ""))) / 3  # A3→C4
    assert c_y == pytest.approx(float(lines[60].get("y1", "")) - semitone / 2, abs=0.2)
    assert b_y == pytest.approx(a_y - 2 * semitone, abs=0.2)  # B3: two semitones above A3
    assert a_x == pytest.approx(LEFT) and b_x == pytest.approx(LEFT + PLOT_W)
    assert a_x < c_x < b_x
    labels = {t.text for t in root.iter(SVG + "text")}
    assert {"A3", "C4", "D4"} <= labels and "B3" not in labels


def test_a_flat_key_labels_its_lines_with_flats() -> None:
    notes = [NoteRow(onset_s=1.0, midi=70, cents=0.0, in_scale=True)]  # Bb4
    root = _svg(pitch_plot(notes, parse_scale("Bb major"), duration_s=2.0))
    labels = {t.text for t in root.iter(SVG + "text")}
    assert "Bb4" in labels and "A#4" not in labels


def test_twenty_thousand_notes_still_make_a_small_picture() -> None:
    notes = [
        NoteRow(onset_s=i * 0.36, midi=40 + i % 30, cents=(i % 21) - 10.0, in_scale=i % 5 > 0)
        for i in range(20_000)
    ]
    svg = pitch_plot(notes, parse_scale("E minor"), duration_s=7200.0)
    root = _svg(svg)
    drawn = sum(int(p.get("data-count", "")) for p in _with_class(root, "path", "notes"))
    assert drawn == 20_000
    assert len(svg.encode()) < 400_000


def test_text_in_the_pictures_is_escaped() -> None:
    hostile = '</title><script>alert("x")</script>&'
    svg = score_plot([ScorePoint(DAY0, 0.5, 0.5, 0.5, href='/s/"><script>', label=hostile)])
    root = _svg(svg)  # well-formed: nothing broke out of its attribute or element
    assert not list(root.iter(SVG + "script")) and not list(root.iter("script"))
    assert [t.text for t in root.iter(SVG + "title")][1] == hostile


def test_nice_ticks_are_round_numbers_inside_the_range() -> None:
    assert nice_ticks(0.0, 30.0) == [0, 10, 20, 30]
    assert nice_ticks(0.0, 7200.0) == [0, 2000, 4000, 6000]
    assert nice_ticks(0.0, 1.0) == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert nice_ticks(5.0, 5.0) == [5.0]
    assert nice_ticks(0.0, 5e-324) == [0.0]  # its step underflows to 0: log10(0) was a 500
    huge = nice_ticks(0.0, 1e308)  # a finite duration, so a valid one
    assert huge == [0.0, 2e307, 4e307, 6e307, 8e307, 1e308]
    assert all(isinstance(t, float) for t in huge)


@pytest.mark.parametrize(
    ("offset", "words"),
    [
        (-12.4, "rushing by 12 ms"),
        (7.6, "dragging by 8 ms"),
        (0.3, "on the click (within 1 ms on average)"),
        (None, "no metronome offset (free tempo, or no note near a click)"),
    ],
)
def test_the_metronome_offset_reads_as_rushing_or_dragging(
    offset: float | None, words: str
) -> None:
    assert offset_words(offset) == words


# --------------------------------------------------------------------------- the pages


@pytest.fixture(scope="module")
def pages_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """A Hub where alice and bob each have a password and a device token."""
    with HubProcess(
        tmp_path_factory.mktemp("pages-hub"),
        tokens=fresh_tokens("alice", "bob"),
        users={"alice": PASSWORD, "bob": PASSWORD},
        enable_faults=False,
    ) as server:
        yield server


def post(hub: HubProcess, user: str, body: dict[str, Any], path: str = "sessions") -> None:
    answer = requests.post(
        f"{hub.url}/api/v1/{path}",
        json=body,
        headers=hub.headers(user, idempotency_key=body["session_id"]),
        timeout=10,
    )
    assert answer.status_code == 201, answer.text


def rows_listed(page: str) -> list[str]:
    """The session ids in the sessions table, in order."""
    return [part.split('"')[0] for part in page.split('<tr class="session" id="session-')[1:]]


@pytest.fixture(scope="module")
def stored(pages_hub: HubProcess) -> dict[str, dict[str, Any]]:
    """alice: two sessions (one without notes); bob: one, plus one under alice's first id."""
    alice_first = session_body("alice", mean_offset_ms=-12.4)
    alice_later = session_body(
        "alice",
        start_timestamp="2025-03-04T18:00:00+00:00",
        end_timestamp="2025-03-04T18:20:00+00:00",
        notes=None,
        mean_offset_ms=7.6,
    )
    bob_own = session_body("bob", device_id="bobs-portable")
    bob_same_id = session_body(
        "bob", session_id=alice_first["session_id"], device_id="bobs-portable"
    )
    for user, body in (
        ("alice", alice_first),
        ("alice", alice_later),
        ("bob", bob_own),
        ("bob", bob_same_id),
    ):
        post(pages_hub, user, body)
    return {"alice_first": alice_first, "alice_later": alice_later, "bob_own": bob_own}


def test_the_sessions_page_lists_only_my_sessions_newest_first_with_the_plot(
    pages_hub: HubProcess, stored: dict[str, dict[str, Any]]
) -> None:
    browser, _csrf = signed_in(pages_hub, "alice")
    page = browser.get(f"{pages_hub.url}/sessions", timeout=10)
    assert page.status_code == 200 and page.headers["Cache-Control"] == "no-store"
    assert rows_listed(page.text) == [
        stored["alice_later"]["session_id"],
        stored["alice_first"]["session_id"],
    ]
    assert stored["bob_own"]["session_id"] not in page.text
    assert "bobs-portable" not in page.text
    svg = page.text.split('<svg xmlns="http://www.w3.org/2000/svg" id="score-plot"')[1]
    root = _svg('<svg xmlns="http://www.w3.org/2000/svg"' + svg.split("</svg>")[0] + "</svg>")
    assert root.get("data-sessions") == "2"
    assert "<script" not in page.text and "cdn" not in page.text.lower()


def test_another_users_session_is_404_exactly_like_an_unknown_id(
    pages_hub: HubProcess, stored: dict[str, dict[str, Any]]
) -> None:
    alice, _ = signed_in(pages_hub, "alice")
    bobs = alice.get(f"{pages_hub.url}/sessions/{stored['bob_own']['session_id']}", timeout=10)
    unknown = alice.get(f"{pages_hub.url}/sessions/{uuid.uuid4()}", timeout=10)
    garbage = alice.get(f"{pages_hub.url}/sessions/not-a-uuid", timeout=10)
    assert bobs.status_code == unknown.status_code == garbage.status_code == 404
    assert bobs.text == unknown.text  # nothing tells that bob's id exists
    assert "bobs-portable" not in bobs.text
    bob, _ = signed_in(pages_hub, "bob")
    own = bob.get(f"{pages_hub.url}/sessions/{stored['bob_own']['session_id']}", timeout=10)
    assert own.status_code == 200 and "bobs-portable" in own.text


def test_the_same_id_under_two_users_shows_each_their_own(
    pages_hub: HubProcess, stored: dict[str, dict[str, Any]]
) -> None:
    shared = stored["alice_first"]["session_id"]
    alice, _ = signed_in(pages_hub, "alice")
    bob, _ = signed_in(pages_hub, "bob")
    alices = alice.get(f"{pages_hub.url}/sessions/{shared.upper()}", timeout=10).text
    bobs = bob.get(f"{pages_hub.url}/sessions/{shared}", timeout=10).text
    assert "portable-0001" in alices and "bobs-portable" not in alices
    assert "bobs-portable" in bobs and "portable-0001" not in bobs


def test_the_session_page_shows_the_notes_against_the_scale_and_the_offset(
    pages_hub: HubProcess, stored: dict[str, dict[str, Any]]
) -> None:
    browser, _ = signed_in(pages_hub, "alice")
    first = browser.get(
        f"{pages_hub.url}/sessions/{stored['alice_first']['session_id']}", timeout=10
    )
    assert first.status_code == 200
    assert "rushing by 12 ms" in first.text and "A Minor (Pentatonic)" in first.text
    assert 'id="pitch-plot"' in first.text and 'data-notes="3"' in first.text
    lines = first.text.split('class="scale-line')[1:]
    shown = {int(line.split('data-midi="')[1].split('"')[0]) % 12 for line in lines}
    assert shown == parse_scale("A minor pentatonic").pitch_classes  # at least an octave
    later = browser.get(
        f"{pages_hub.url}/sessions/{stored['alice_later']['session_id']}", timeout=10
    )
    assert "dragging by 8 ms" in later.text
    assert 'id="pitch-plot"' not in later.text
    assert "The device sent no notes with this session" in later.text


def test_a_session_lasting_1e308_seconds_has_a_page_not_a_500(pages_hub: HubProcess) -> None:
    """Any finite duration and onset is stored; the page drew its time axis with an
    integer step of 10**307 that no float could be scaled by (a 500), and spelt the
    minutes out in 300 digits."""
    body = session_body("alice", duration_seconds=1e308)
    body["notes"][0]["onset_s"] = 1e308
    post(pages_hub, "alice", body)
    browser, _ = signed_in(pages_hub, "alice")
    page = browser.get(f"{pages_hub.url}/sessions/{body['session_id']}", timeout=10)
    assert page.status_code == 200, page.text
    assert "1.67e+306" in page.text and "16666666666" not in page.text
    assert 'id="pitch-plot"' in page.text
    listed = browser.get(f"{pages_hub.url}/sessions", timeout=10)
    assert listed.status_code == 200 and "1.67e+306" in listed.text


def test_a_session_with_no_notes_played_says_so(pages_hub: HubProcess) -> None:
    silent = session_body(
        "alice", notes=[], total_notes_played=0, correct_notes_played=0, bad_notes_played=0
    )
    post(pages_hub, "alice", silent)
    browser, _ = signed_in(pages_hub, "alice")
    page = browser.get(f"{pages_hub.url}/sessions/{silent['session_id']}", timeout=10)
    assert "No notes were played in this session." in page.text
    assert "no metronome offset" in page.text


def test_every_string_from_a_device_or_the_coach_is_escaped(pages_hub: HubProcess) -> None:
    hostile = session_body("bob", device_id='<script>alert("device")</script>')
    post(pages_hub, "bob", hostile)
    summary = summary_body(
        hostile["session_id"], "bob", summary="<img src=x onerror=alert(1)> & keep going"
    )
    post(pages_hub, "bob", summary, path="session-summaries")
    browser, _ = signed_in(pages_hub, "bob")
    page = browser.get(f"{pages_hub.url}/sessions/{hostile['session_id']}", timeout=10).text
    assert "<script" not in page and "<img" not in page
    assert "&lt;script&gt;alert(&quot;device&quot;)&lt;/script&gt;" in page
    assert "&lt;img src=x onerror=alert(1)&gt; &amp; keep going" in page


def test_signed_out_the_pages_ask_to_sign_in_and_lead_back(
    pages_hub: HubProcess, stored: dict[str, dict[str, Any]]
) -> None:
    anonymous = requests.Session()
    listing = anonymous.get(f"{pages_hub.url}/sessions", timeout=10)
    one = anonymous.get(
        f"{pages_hub.url}/sessions/{stored['alice_first']['session_id']}", timeout=10
    )
    for page in (listing, one):
        assert (
            'action="/device/sign-in"' in page.text and 'name="then" value="sessions"' in page.text
        )
        assert "portable-0001" not in page.text
    signed = anonymous.post(
        f"{pages_hub.url}/device/sign-in",
        data={"user_id": "alice", "password": PASSWORD, "then": "sessions"},
        allow_redirects=False,
        timeout=10,
    )
    assert (signed.status_code, signed.headers["location"]) == (303, "/sessions")
    assert rows_listed(anonymous.get(f"{pages_hub.url}/sessions", timeout=10).text)
    # `then` names a page of the Hub's own, never an address: no open redirect.
    elsewhere = requests.post(
        f"{pages_hub.url}/device/sign-in",
        data={"user_id": "alice", "password": PASSWORD, "then": "https://evil.example/"},
        allow_redirects=False,
        timeout=10,
    )
    assert (elsewhere.status_code, elsewhere.headers["location"]) == (303, "/device")


def test_the_device_page_links_to_the_sessions(pages_hub: HubProcess) -> None:
    browser, _ = signed_in(pages_hub, "alice")
    page = browser.get(f"{pages_hub.url}/device", timeout=10).text
    assert '<a href="/sessions" id="sessions-link">' in page


def test_a_new_user_sees_how_sessions_arrive(tmp_path: Path) -> None:
    with HubProcess(
        tmp_path / "hub", tokens={}, users={"dana": PASSWORD}, enable_faults=False
    ) as hub:
        browser, _ = signed_in(hub, "dana")
        page = browser.get(f"{hub.url}/sessions", timeout=10).text
    assert "No sessions yet" in page and 'id="score-plot"' not in page
