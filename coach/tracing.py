"""Opik tracing for the coach, safe on a small, often-offline device.

Every tip is one trace, named ``live-feedback`` (the end-of-session summary:
``session-summary``, same thread, that tag instead), made by the real SDK: ``opik.track`` on
the feedback function, ``track_openai`` on the OpenAI clients (so each LLM call is a
child span carrying its token usage), and ``opik_context.update_current_trace`` with the
family's thread id (``<session_id>-live-aicoach-feedback``), tags (``fretcoach-core``,
the model, ``ai-mode``/``manual-mode``, ``fretcoach-portable``, ``live-feedback``, and
``offline-coach`` for rule-based tips) and metadata (session, scale, BPM, metric values,
the provider actually used). AI mode's recommendations are traced the same way
(:mod:`coach.recommend`, through :meth:`Tracer.run_traced` and :meth:`Tracer.record_trace`).
The project is ``OPIK_PROJECT_NAME`` (default ``FretCoach``). Tracing is on when
``OPIK_URL_OVERRIDE`` or ``OPIK_API_KEY`` is set, and off with ``OPIK_TRACK_DISABLE=true``.

The SDK keeps undelivered data in memory and in a temporary SQLite file that is deleted
at exit, so a device that is offline, or killed, would lose it. Hence our own outbox:
each trace — with its original timestamps, thread id, tags, metadata, input, output and
spans with usage (:func:`trace_record`) — is also written to the store
(``sync.store.Store``, the one import from outside ``dsp`` this package makes) as an
``opik-trace`` payload *before* the SDK sends it. :class:`TraceReplayer` later delivers
what Opik does not have, through the same REST API the SDK uses, with explicit ids:
exactly once per trace id. A trace this process's SDK clients are still responsible for
(they replay their own backlog when the connection returns) is only checked, never
posted, so the two paths never both send it; what they leave undelivered is posted by
the next process. Every :class:`Tracer` of a process marks its records with the same
origin, so a replayer told the live coach's origin leaves AI mode's traces to AI mode's
SDK client too. Thumbs up/down become the "User Feedback" score on a tip's trace, queued
as ``opik-feedback`` the same way.

Device-friendly defaults, applied by :func:`prepare_opik_environment` before the SDK is
imported (an explicit value in the environment always wins): flush timeout 3 s
(``OPIK_DEFAULT_FLUSH_TIMEOUT``; unset, shutdown can hang for minutes behind a captive
portal), the SDK's Sentry error reporting and usage analytics off, one trace write per
trace instead of start + end, one sender thread. The SDK's temporary buffer goes to
``FRETCOACH_OPIK_BUFFER_DIR``, else systemd's ``$RUNTIME_DIRECTORY`` (RAM, under /run),
when ``TMPDIR`` is not set: the SDK offers no setting for it, only ``tempfile``'s.
"""

from __future__ import annotations

import contextvars
import dataclasses
import datetime as dt
import json
import logging
import os
import secrets
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar

from dsp.errors import CoachSettingError

if TYPE_CHECKING:
    import openai
    import opik
    from opik.rest_api import OpikApi

    from coach.feedback import FeedbackResult, TipRequest
    from coach.providers import Attempt
    from sync.store import Store

log = logging.getLogger(__name__)

DEFAULT_PROJECT = "FretCoach"
DEPLOYMENT = "fretcoach-portable"
LIVE_FEEDBACK = "live-feedback"
SESSION_SUMMARY = "session-summary"
THREAD_SUFFIX = "-live-aicoach-feedback"
OFFLINE_TAG = "offline-coach"
USER_FEEDBACK = "User Feedback"
TRACE_KIND = "opik-trace"
FEEDBACK_KIND = "opik-feedback"
OPIK_CLOUD_URL = "https://www.comet.com/opik/api/"
RECORD_VERSION = 1
# The origin every Tracer of this process gives its outbox records unless told otherwise:
# the replayer defers this process's traces to its SDK clients, whichever tracer made them.
PROCESS_ORIGIN = uuid.uuid4().hex

P = ParamSpec("P")
R = TypeVar("R")


@dataclass(frozen=True, slots=True)
class OpikSettings:
    """Where traces go. Read from the environment with :meth:`from_env`."""

    enabled: bool
    url: str | None = None
    api_key: str | None = field(default=None, repr=False)
    workspace: str | None = None
    project_name: str = DEFAULT_PROJECT
    flush_timeout_s: int = 3
    # The replayer's own per-request timeout (it never retries inside a round).
    request_timeout_s: float = 3.0
    buffer_dir: str | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> OpikSettings:
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(name, "").strip()
            return value or None

        url, api_key = get("OPIK_URL_OVERRIDE"), get("OPIK_API_KEY")
        disabled = (get("OPIK_TRACK_DISABLE") or "").lower() in ("1", "true", "yes", "on")
        flush = get("OPIK_DEFAULT_FLUSH_TIMEOUT")
        try:
            flush_s = int(flush) if flush is not None else 3
        except ValueError:
            flush_s = -1
        if not 1 <= flush_s <= 60:
            raise CoachSettingError(
                f"OPIK_DEFAULT_FLUSH_TIMEOUT must be whole seconds from 1 to 60, not {flush!r}"
            )
        runtime = get("RUNTIME_DIRECTORY")
        return cls(
            enabled=bool(url or api_key) and not disabled,
            url=url,
            api_key=api_key,
            workspace=get("OPIK_WORKSPACE"),
            project_name=get("OPIK_PROJECT_NAME") or DEFAULT_PROJECT,
            flush_timeout_s=flush_s,
            buffer_dir=get("FRETCOACH_OPIK_BUFFER_DIR")
            or (runtime.split(":")[0] if runtime else None),
        )

    @property
    def base_url(self) -> str:
        return (self.url or OPIK_CLOUD_URL).rstrip("/")


def prepare_opik_environment(
    settings: OpikSettings, environ: MutableMapping[str, str] | None = None
) -> dict[str, str]:
    """Set the SDK's device defaults where the environment says nothing; returns them.

    Must run before ``import opik``: the SDK starts Sentry at import time.
    """
    env = os.environ if environ is None else environ
    defaults = {
        "OPIK_DEFAULT_FLUSH_TIMEOUT": str(settings.flush_timeout_s),
        "OPIK_SENTRY_ENABLE": "false",
        "OPIK_ANALYTICS_ENABLE": "false",
        # A tip takes seconds: logging each trace and span at start *and* end doubles
        # the writes for nothing.
        "OPIK_LOG_START_TRACE_SPAN": "false",
        # One sender thread (default 4) and one upload thread (default 16) on a Pi.
        "OPIK_BACKGROUND_WORKERS": "1",
        "OPIK_FILE_UPLOAD_BACKGROUND_WORKERS": "1",
        "OPIK_PROJECT_NAME": settings.project_name,
    }
    if settings.buffer_dir and "TMPDIR" not in env:
        defaults["TMPDIR"] = settings.buffer_dir
    applied = {key: value for key, value in defaults.items() if key not in env}
    env.update(applied)
    if "TMPDIR" in applied and env is os.environ:
        tempfile.tempdir = None  # recompute from TMPDIR on next use
    return applied


def thread_id_for(session_id: str) -> str:
    return f"{session_id}{THREAD_SUFFIX}"


def live_tags(
    model: str, *, ai_mode: bool, offline: bool, purpose: str = LIVE_FEEDBACK
) -> list[str]:
    """The family's tags; ``purpose`` is ``live-feedback`` or ``session-summary``."""
    tags = [
        "fretcoach-core",
        model,
        "ai-mode" if ai_mode else "manual-mode",
        DEPLOYMENT,
        purpose,
    ]
    if offline:
        tags.append(OFFLINE_TAG)
    return list(dict.fromkeys(tags))  # the offline coach's model name is its tag too


def uuid7() -> str:
    """A UUIDv7 (time-ordered), the id form Opik requires for traces and spans."""
    ms = time.time_ns() // 1_000_000
    value = (ms & ((1 << 48) - 1)) << 80 | secrets.randbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


@dataclass(frozen=True, slots=True)
class LLMCall:
    """One request to a model as the outbox records it: what was sent and how it went
    (an LLM span; with the token usage when the model answered)."""

    messages: Sequence[Mapping[str, str]]
    attempt: Attempt


class Tracer:
    """Traces tips (and AI mode's recommendations) through the Opik SDK and records them
    in the outbox.

    :meth:`start` imports the SDK (seconds on a Pi): call it from a worker thread. When
    tracing is off, or the SDK cannot start, every method still works and traces nothing.
    Without a ``store`` nothing is queued: traces go through the SDK only. ``origin``
    marks the outbox records this process's SDK clients send themselves (default: the
    same for every tracer of the process, see :class:`TraceReplayer`).
    """

    def __init__(
        self,
        settings: OpikSettings,
        *,
        store: Store | None = None,
        origin: str | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        # Marks the traces this process's SDK is responsible for (see TraceReplayer).
        self.origin = origin or PROCESS_ORIGIN
        self._client: opik.Opik | None = None
        self._started = False
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return self._client is not None

    @property
    def sdk_client(self) -> opik.Opik | None:
        """The running SDK client (None until :meth:`start` succeeded), for callers that
        send a trace themselves with explicit ids, as :mod:`coach.speech` does."""
        return self._client

    def start(self) -> bool:
        """Set up the SDK; False when tracing is off or the SDK failed to start."""
        with self._lock:
            if self._started or not self.settings.enabled:
                return self.active
            self._started = True
            prepare_opik_environment(self.settings)
            try:
                import opik

                client = opik.Opik(
                    project_name=self.settings.project_name,
                    workspace=self.settings.workspace,
                    host=self.settings.url,
                    api_key=self.settings.api_key,
                )
            except Exception as err:  # an optional part: fail softly, keep coaching
                log.warning("Opik tracing is off: the opik SDK failed to start (%s)", err)
                return False
            self._client = client
            log.info(
                "coach: tracing to Opik project %r at %s",
                self.settings.project_name,
                self.settings.base_url,
            )
            return True

    def wrap_openai(self, client: openai.OpenAI, provider: str | None) -> openai.OpenAI:
        """``track_openai`` when tracing, so every call is an LLM span with usage."""
        if not self.active:
            return client
        from opik.integrations.openai import track_openai

        return track_openai(client, project_name=self.settings.project_name, provider=provider)

    def run_traced(
        self, name: str, body: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs
    ) -> R:
        """Run ``body`` as one SDK trace named ``name``: ``body`` sets the trace's input,
        output, tags and thread itself (``opik_context``), and its LLM calls, through
        :meth:`wrap_openai` clients, are child spans. Only after :meth:`start` returned True.
        """
        if self._client is None:
            raise RuntimeError("the tracer is not running: start() it first")
        import opik

        tracked = opik.track(
            name=name,
            capture_input=False,
            capture_output=False,
            project_name=self.settings.project_name,
        )(body)
        client = self._client

        def run() -> R:
            # This call's current client, not a process-wide one: two tracers (two
            # backends) never cross, and the thread is not left holding a client that may
            # be closed later (the copied context is dropped when the call returns).
            opik.set_global_client(client, context_wise=True)
            return tracked(*args, **kwargs)

        return contextvars.copy_context().run(run)

    def live_feedback(
        self, request: TipRequest, produce: Callable[[TipRequest], FeedbackResult]
    ) -> tuple[FeedbackResult, str | None]:
        """Run ``produce`` as the traced feedback function; returns its result and trace id."""
        if self._client is None:
            return produce(request), None
        return self.run_traced(request.purpose, self._live_feedback, request, produce)

    def _live_feedback(
        self, request: TipRequest, produce: Callable[[TipRequest], FeedbackResult]
    ) -> tuple[FeedbackResult, str]:
        from opik import opik_context

        trace = opik_context.get_current_trace_data()
        span = opik_context.get_current_span_data()
        started = (trace.start_time if trace and trace.start_time else None) or _utcnow()
        result = produce(request)
        thread_id = thread_id_for(request.session_id)
        tags = live_tags(
            result.model,
            ai_mode=request.ai_mode,
            offline=result.provider == "offline",
            purpose=request.purpose,
        )
        metadata = live_metadata(request, result)
        trace_input = {"input": result.messages[-1]["content"] if result.messages else ""}
        trace_output = {"output": result.text}
        opik_context.update_current_trace(
            input=trace_input,
            output=trace_output,
            tags=tags,
            metadata=metadata,
            thread_id=thread_id,
        )
        opik_context.update_current_span(
            input=trace_input, output=trace_output, metadata=metadata, tags=tags
        )
        trace_id = trace.id if trace is not None else uuid7()
        self.record_trace(
            name=request.purpose,
            trace_id=trace_id,
            root_span_id=span.id if span is not None else uuid7(),
            started=started,
            ended=_utcnow(),
            trace_input=trace_input,
            trace_output=trace_output,
            tags=tags,
            metadata=metadata,
            thread_id=thread_id,
            llm_calls=[LLMCall(result.messages, attempt) for attempt in result.attempts],
        )
        return result, trace_id

    def record_trace(
        self,
        *,
        name: str,
        trace_id: str,
        root_span_id: str,
        started: dt.datetime,
        ended: dt.datetime,
        trace_input: dict[str, Any],
        trace_output: dict[str, Any],
        tags: list[str],
        metadata: dict[str, Any],
        thread_id: str,
        llm_calls: Sequence[LLMCall] = (),
    ) -> bool:
        """Queue a trace in the outbox (:func:`trace_record`, with this tracer's origin
        and project) for :class:`TraceReplayer`; False without a store or when queueing
        failed. Use the ids the SDK gave the trace and its root span when it sends it too,
        so the two paths stay one trace."""
        if not self.settings.enabled:
            return False
        return self.enqueue_record(
            trace_record(
                name=name,
                trace_id=trace_id,
                root_span_id=root_span_id,
                origin=self.origin,
                project_name=self.settings.project_name,
                started=started,
                ended=ended,
                trace_input=trace_input,
                trace_output=trace_output,
                tags=tags,
                metadata=metadata,
                thread_id=thread_id,
                llm_calls=llm_calls,
            )
        )

    def enqueue_record(self, record: Mapping[str, Any]) -> bool:
        """Queue a ready-made outbox trace record (:func:`trace_record`'s form) under its
        trace id; False without a store, when it is queued already or queueing failed."""
        return self._enqueue(TRACE_KIND, str(record["trace"]["id"]), dict(record))

    def queue_feedback(self, trace_id: str, *, thumbs_up: bool) -> bool:
        """Queue "User Feedback" (thumbs up = 1, down = 0) on a trace; False if not traced."""
        if not self.settings.enabled:
            return False
        record = {
            "v": RECORD_VERSION,
            "trace_id": trace_id,
            "project_name": self.settings.project_name,
            "name": USER_FEEDBACK,
            "value": 1.0 if thumbs_up else 0.0,
            "category_name": "thumbs up" if thumbs_up else "thumbs down",
            "created_at": _iso(_utcnow()),
        }
        if self.store is not None:
            # A new ref per press: a changed mind is a new score, and the last one wins.
            return self._enqueue(FEEDBACK_KIND, f"{trace_id}/{time.time_ns()}", record)
        if self._client is None:
            return False
        self._client.log_traces_feedback_scores(
            [
                {
                    "id": trace_id,
                    "name": USER_FEEDBACK,
                    "value": record["value"],
                    "category_name": record["category_name"],
                    "project_name": self.settings.project_name,
                }
            ]
        )
        return True

    def _enqueue(self, kind: str, ref: str, record: dict[str, Any]) -> bool:
        if self.store is None:
            return False
        try:
            return self.store.enqueue_payload(kind, ref, json.dumps(record, default=str))
        except Exception as err:  # a full disk must not cost the player a tip
            log.warning("coach: could not queue %s %s in the store: %s", kind, ref, err)
            return False

    def flush(self, timeout_s: float) -> bool:
        if self._client is None:
            return True
        return self._client.flush(timeout=max(1, int(timeout_s)))

    def close(self, timeout_s: float) -> None:
        """Flush what the SDK holds for at most ``timeout_s`` (whole seconds, at least 1)."""
        client, self._client = self._client, None
        if client is not None:
            client.end(timeout=max(1, int(timeout_s)))


def live_metadata(request: TipRequest, result: FeedbackResult) -> dict[str, Any]:
    snapshot = request.snapshot
    return {
        "session_id": request.session_id,
        "scale": snapshot.scale_name,
        "bpm": snapshot.bpm,
        "metrics": snapshot.as_metadata(),
        "enabled_metrics": list(snapshot.metrics),
        "notes": snapshot.notes,
        "most_out_of_tune": snapshot.most_out_of_tune,
        "most_out_of_scale": snapshot.most_out_of_scale,
        "stream_s": round(request.stream_s, 1),
        "duration_s": request.duration_s,
        "provider": result.provider,
        "model": result.model,
        "tip_kind": result.kind,
        "replaced_because": result.reason,
        "attempts": [
            {"provider": a.provider, "model": a.model, "outcome": a.outcome}
            for a in result.attempts
        ],
        "prompt_version": result.prompt_version,
        "deployment": DEPLOYMENT,
    }


def trace_record(
    *,
    name: str,
    trace_id: str,
    root_span_id: str,
    origin: str,
    project_name: str,
    started: dt.datetime,
    ended: dt.datetime,
    trace_input: dict[str, Any],
    trace_output: dict[str, Any],
    tags: list[str],
    metadata: dict[str, Any],
    thread_id: str,
    llm_calls: Sequence[LLMCall] = (),
) -> dict[str, Any]:
    """The outbox form of a trace: the trace, its root span and one LLM span per request
    made (a call skipped, e.g. while rate-limited, made none)."""
    spans: list[dict[str, Any]] = [
        {
            "id": root_span_id,
            "trace_id": trace_id,
            "name": name,
            "type": "general",
            "start_time": _iso(started),
            "end_time": _iso(ended),
            "input": trace_input,
            "output": trace_output,
            "metadata": metadata,
            "tags": tags,
        }
    ]
    spans += [
        llm_span(call, trace_id=trace_id, parent_span_id=root_span_id)
        for call in llm_calls
        if call.attempt.outcome != "skipped"
    ]
    return {
        "v": RECORD_VERSION,
        "origin": origin,
        "project_name": project_name,
        "trace": {
            "id": trace_id,
            "name": name,
            "start_time": _iso(started),
            "end_time": _iso(ended),
            "input": trace_input,
            "output": trace_output,
            "metadata": metadata,
            "tags": tags,
            "thread_id": thread_id,
        },
        "spans": spans,
    }


def llm_span(call: LLMCall, *, trace_id: str, parent_span_id: str) -> dict[str, Any]:
    """One model request as an Opik LLM span, shaped as ``track_openai`` logs it."""
    attempt = call.attempt
    span: dict[str, Any] = {
        "id": uuid7(),
        "trace_id": trace_id,
        "parent_span_id": parent_span_id,
        "name": "chat_completion_create",
        "type": "llm",
        "start_time": _iso(attempt.started_at),
        "end_time": _iso(attempt.ended_at),
        "input": {"messages": [dict(m) for m in call.messages]},
        "output": {"content": attempt.text} if attempt.text is not None else None,
        "metadata": {"outcome": attempt.outcome, "coach_provider": attempt.provider},
        "model": attempt.model,
        "provider": attempt.trace_provider or attempt.provider,
        "usage": attempt.usage,
    }
    if attempt.error:
        span["error_info"] = {
            "exception_type": attempt.error.split(":", 1)[0],
            "message": attempt.error,
            "traceback": "",
        }
    return span


@dataclass(slots=True)
class ReplayReport:
    """What one :meth:`TraceReplayer.replay_once` round did."""

    sent: int = 0
    already_there: int = 0
    deferred: int = 0
    retry: int = 0
    dead: int = 0
    feedback_sent: int = 0
    unreachable: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class TraceReplayer:
    """Delivers the outbox's traces and feedback scores to Opik: exactly once per trace id.

    A round stops at the first sign that Opik is unreachable and writes nothing to the
    store then (no SD-card wear while offline). Per trace: if Opik already has it (the
    SDK delivered it), it is marked sent; if not, and it is ``live_origin``'s — this
    process's running SDK clients may still deliver it — it waits; otherwise its spans
    are posted, then the trace, and only then is it marked sent (a trace that exists
    implies its spans do). ``live_origin`` is a running tracer's :attr:`Tracer.origin`,
    or None when no SDK runs here (then everything not in Opik is posted). Feedback waits
    for its trace. Not thread-safe: one caller at a time.
    """

    def __init__(
        self,
        store: Store,
        settings: OpikSettings,
        *,
        live_origin: str | None = None,
    ) -> None:
        self.store = store
        self.settings = settings
        self.live_origin = live_origin
        self._api: OpikApi | None = None

    def _client(self) -> OpikApi:
        if self._api is None:
            prepare_opik_environment(self.settings)
            from opik.rest_api import OpikApi

            # The SDK's generated REST client, without the SDK's retry wrapper: a round
            # must stay short, and the next round is the retry.
            self._api = OpikApi(
                base_url=self.settings.base_url,
                api_key=self.settings.api_key,
                workspace_name=self.settings.workspace,
                timeout=self.settings.request_timeout_s,
            )
        return self._api

    def replay_once(self, *, limit: int = 50) -> ReplayReport:
        report = ReplayReport()
        if not self.settings.enabled:
            return report
        import httpx
        from opik.rest_api.core.api_error import ApiError

        api = self._client()
        waiting: set[str] = set()
        try:
            traces = self.store.pending(kinds=(TRACE_KIND,), limit=limit)
            for item in traces:
                if not self._replay_trace(api, item.id, item.ref, item.payload, report):
                    waiting.add(item.ref)
            if len(traces) == limit:
                return report  # more traces queued than one round takes: they go first
            for item in self.store.pending(kinds=(FEEDBACK_KIND,), limit=limit):
                self._replay_feedback(api, item.id, item.payload, waiting, report)
        except httpx.TransportError as err:
            report.unreachable = True
            where = self.settings.base_url
            log.info("coach: Opik unreachable at %s (%s); traces stay queued", where, err)
        except ApiError as err:
            # 429 or 5xx: the backend is there but busy; the next round tries again.
            report.retry += 1
            log.info("coach: Opik answered HTTP %s; traces stay queued", err.status_code)
        return report

    def _replay_trace(
        self, api: OpikApi, item_id: int, ref: str, payload: str | None, report: ReplayReport
    ) -> bool:
        """True when the trace is now known to be in Opik."""
        from opik.rest_api.core.api_error import ApiError
        from opik.rest_api.types.span_write import SpanWrite
        from opik.rest_api.types.trace_write import TraceWrite

        try:
            record = json.loads(payload or "")
            trace = TraceWrite(project_name=record["project_name"], **record["trace"])
            spans = [
                SpanWrite(project_name=record["project_name"], **span)
                for span in record.get("spans", [])
            ]
        except (ValueError, TypeError, KeyError) as err:  # pydantic's errors are ValueErrors
            self.store.mark_dead(item_id, f"unreadable trace record: {err}"[:500])
            report.dead += 1
            return True
        if self._exists(api, ref):
            self.store.mark_sent(item_id)
            report.already_there += 1
            return True
        if record.get("origin") == self.live_origin:
            report.deferred += 1
            return False
        try:
            if spans:
                api.spans.create_spans(spans=spans)
            api.traces.create_traces(traces=[trace])
        except ApiError as err:
            if err.status_code == 409:  # it is there after all
                self.store.mark_sent(item_id)
                report.already_there += 1
                return True
            if _retryable(err.status_code):
                self.store.mark_retry(item_id, f"HTTP {err.status_code}")
                raise
            self.store.mark_dead(
                item_id, f"Opik refused it: HTTP {err.status_code} {err.body}"[:500]
            )
            report.dead += 1
            return True
        self.store.mark_sent(item_id)
        report.sent += 1
        return True

    def _exists(self, api: OpikApi, trace_id: str) -> bool:
        from opik.rest_api.core.api_error import ApiError

        try:
            api.traces.get_trace_by_id(trace_id, strip_attachments=True)
        except ApiError as err:
            if err.status_code == 404:
                return False
            raise
        return True

    def _replay_feedback(
        self,
        api: OpikApi,
        item_id: int,
        payload: str | None,
        waiting: set[str],
        report: ReplayReport,
    ) -> None:
        from opik.rest_api.core.api_error import ApiError
        from opik.rest_api.types.feedback_score_batch_item import FeedbackScoreBatchItem

        try:
            record = json.loads(payload or "")
            trace_id = record["trace_id"]
            score = FeedbackScoreBatchItem(
                id=trace_id,
                project_name=record["project_name"],
                name=record["name"],
                value=record["value"],
                category_name=record.get("category_name"),
                source="sdk",
            )
        except (ValueError, TypeError, KeyError) as err:
            self.store.mark_dead(item_id, f"unreadable feedback record: {err}"[:500])
            report.dead += 1
            return
        if trace_id in waiting:
            report.deferred += 1
            return
        try:
            api.traces.score_batch_of_traces(scores=[score])
        except ApiError as err:
            if _retryable(err.status_code):
                self.store.mark_retry(item_id, f"HTTP {err.status_code}")
                raise
            self.store.mark_dead(
                item_id, f"Opik refused it: HTTP {err.status_code} {err.body}"[:500]
            )
            report.dead += 1
            return
        self.store.mark_sent(item_id)
        report.feedback_sent += 1


def _retryable(status: int | None) -> bool:
    return status is None or status in (408, 429) or status >= 500


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
