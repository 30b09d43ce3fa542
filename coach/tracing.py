"""Opik tracing for the coach: the SDK set up for a small, often-offline device, and the
one writer of the outbox's trace record (:meth:`Tracer.record`), which :mod:`coach.replay`
reads back; docs/coach-tracing.md tells how the two paths share the work.
"""

from __future__ import annotations

import contextvars
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
from typing import TYPE_CHECKING, Any, Literal, ParamSpec, TypeVar
from urllib.parse import urlsplit, urlunsplit

from dsp.errors import CoachSettingError

if TYPE_CHECKING:
    import openai
    import opik

    from coach.providers import Attempt
    from sync.store import Store

log = logging.getLogger(__name__)

DEFAULT_PROJECT = "FretCoach"
DEPLOYMENT = "fretcoach-portable"
THREAD_SUFFIX = "-live-aicoach-feedback"
USER_FEEDBACK = "User Feedback"
# The "User Feedback" categories and values the thumbs buttons send; `fretcoach opik setup`
# defines the categorical feedback definition from these very values.
THUMBS_UP, THUMBS_DOWN = "thumbs up", "thumbs down"
USER_FEEDBACK_CATEGORIES: dict[str, float] = {THUMBS_UP: 1.0, THUMBS_DOWN: 0.0}
TRACE_KIND = "opik-trace"
FEEDBACK_KIND = "opik-feedback"
OPIK_CLOUD_URL = "https://www.comet.com/opik/api/"
RECORD_VERSION = 1
# The origin every Tracer of this process gives the records its SDK sends too, unless told
# otherwise: the replayer defers this process's traces to its SDK clients, whichever
# tracer made them.
PROCESS_ORIGIN = uuid.uuid4().hex
# The origin of records only the outbox carries (made while no SDK ran): never deferred.
OUTBOX_ORIGIN = f"outbox-{uuid.uuid4().hex}"

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

    @property
    def shown_url(self) -> str:
        """:attr:`base_url` for logs: any ``user:password@`` in it replaced by ``***@``."""
        parts = urlsplit(self.base_url)
        if "@" not in parts.netloc:
            return self.base_url
        return urlunsplit(parts._replace(netloc="***@" + parts.netloc.rpartition("@")[2]))


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


def uuid7() -> str:
    """A UUIDv7 (time-ordered), the id form Opik requires for traces and spans."""
    ms = time.time_ns() // 1_000_000
    value = (ms & ((1 << 48) - 1)) << 80 | secrets.randbits(80)
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 4122 variant
    return str(uuid.UUID(int=value))


def _iso(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat()


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def error_info(message: str, exception_type: str | None = None) -> dict[str, str]:
    """Opik's ``error_info``; the type defaults to the message's ``Type:`` prefix."""
    return {
        "exception_type": exception_type or message.split(":", 1)[0],
        "message": message,
        "traceback": "",
    }


@dataclass(frozen=True, slots=True)
class Span:
    """A child of a trace's root span as the outbox records it: a model request, a speech
    synthesis, the playback. ``fields`` are the span's extra Opik fields (model, provider,
    usage)."""

    name: str
    type: Literal["general", "tool", "llm"]
    started: dt.datetime
    ended: dt.datetime
    input: dict[str, Any] | None
    output: dict[str, Any] | None
    metadata: dict[str, Any]
    fields: dict[str, Any] = field(default_factory=dict)
    error_info: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class LLMCall:
    """One request to a model as the outbox records it: what was sent and how it went
    (an LLM span; with the token usage when the model answered)."""

    messages: Sequence[Mapping[str, str]]
    attempt: Attempt


def llm_spans(calls: Sequence[LLMCall]) -> list[Span]:
    """One LLM span per request made, shaped as ``track_openai`` logs it (a call skipped,
    e.g. while rate-limited, made none)."""
    spans = []
    for call in calls:
        attempt = call.attempt
        if attempt.outcome == "skipped":
            continue
        spans.append(
            Span(
                name="chat_completion_create",
                type="llm",
                started=attempt.started_at,
                ended=attempt.ended_at,
                input={"messages": [dict(m) for m in call.messages]},
                output={"content": attempt.text} if attempt.text is not None else None,
                metadata={"outcome": attempt.outcome, "coach_provider": attempt.provider},
                fields={
                    "model": attempt.model,
                    "provider": attempt.trace_provider or attempt.provider,
                    "usage": attempt.usage,
                },
                error_info=error_info(attempt.error) if attempt.error else None,
            )
        )
    return spans


class Tracer:
    """Traces tips, AI mode's recommendations and spoken tips through the Opik SDK and
    records them in the outbox.

    :meth:`start` imports the SDK (seconds on a Pi): call it from a worker thread. When
    tracing is off, or the SDK cannot start, every method still works and traces nothing
    through the SDK. Without a ``store`` nothing is queued: traces go through the SDK only.
    ``origin`` marks the outbox records this process's SDK clients send themselves
    (default: the same for every tracer of the process, see :class:`coach.replay.TraceReplayer`).
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
        self.origin = origin or PROCESS_ORIGIN
        self._client: opik.Opik | None = None
        self._started = False
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return self._client is not None

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
                self.settings.shown_url,
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
        """Run ``body`` as one SDK trace named ``name``: ``body`` ends with :meth:`record`,
        and its LLM calls, through :meth:`wrap_openai` clients, are child spans. Only after
        :meth:`start` returned True.
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

    def record(
        self,
        name: str,
        *,
        trace_input: dict[str, Any],
        trace_output: dict[str, Any],
        tags: list[str],
        metadata: dict[str, Any],
        thread_id: str,
        started: dt.datetime,
        spans: Sequence[Span] = (),
        error: dict[str, str] | None = None,
    ) -> str | None:
        """Record one trace, ending now, and return its id (None when tracing is off).

        The outbox gets it first (an ``opik-trace`` record, for the replayer), then the
        SDK: inside :meth:`run_traced` the current SDK trace and its root span take the
        fields and lend their ids and start time (the SDK logged the LLM spans itself);
        elsewhere, with the SDK running, the record is sent through its client with the
        same ids and times. Without a running SDK the record carries :data:`OUTBOX_ORIGIN`,
        so the replayer sends it. Logs, never raises, for a full disk or a refused send.
        """
        if not self.settings.enabled:
            return None
        client = self._client
        current = _current_trace() if client is not None else None
        if current is not None:
            from opik import opik_context

            sdk_trace, sdk_span = current
            trace_id, root_id = sdk_trace.id, sdk_span.id
            started = sdk_trace.start_time or started
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
        else:
            trace_id, root_id = uuid7(), uuid7()
        ended = _utcnow()
        shared = {
            "start_time": _iso(started),
            "end_time": _iso(ended),
            "input": trace_input,
            "output": trace_output,
            "metadata": metadata,
            "tags": tags,
        }
        root = {"id": root_id, "trace_id": trace_id, "name": name, "type": "general", **shared}
        trace = {"id": trace_id, "name": name, **shared, "thread_id": thread_id}
        if error is not None:
            trace["error_info"] = error
        record = {
            "v": RECORD_VERSION,
            "origin": self.origin if client is not None else OUTBOX_ORIGIN,
            "project_name": self.settings.project_name,
            "trace": trace,
            "spans": [root, *(_child(span, trace_id, root_id) for span in spans)],
        }
        self._enqueue(TRACE_KIND, trace_id, record)
        if client is not None and current is None:
            try:
                _send(client, record)
            except Exception as err:  # the outbox still has it
                log.warning("coach: the Opik SDK refused trace %s (%s): %s", trace_id, name, err)
        return trace_id

    def queue_feedback(self, trace_id: str, *, thumbs_up: bool) -> bool:
        """Queue "User Feedback" (thumbs up = 1, down = 0) on a trace; False if not traced."""
        if not self.settings.enabled:
            return False
        record = {
            "v": RECORD_VERSION,
            "trace_id": trace_id,
            "project_name": self.settings.project_name,
            "name": USER_FEEDBACK,
            "value": USER_FEEDBACK_CATEGORIES[THUMBS_UP if thumbs_up else THUMBS_DOWN],
            "category_name": THUMBS_UP if thumbs_up else THUMBS_DOWN,
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


def _current_trace() -> tuple[Any, Any] | None:
    """The SDK trace and span of the running :meth:`Tracer.run_traced` call, if any."""
    from opik import opik_context

    trace = opik_context.get_current_trace_data()
    span = opik_context.get_current_span_data()
    return (trace, span) if trace is not None and span is not None else None


def _child(span: Span, trace_id: str, parent_span_id: str) -> dict[str, Any]:
    child: dict[str, Any] = {
        "id": uuid7(),
        "trace_id": trace_id,
        "parent_span_id": parent_span_id,
        "name": span.name,
        "type": span.type,
        "start_time": _iso(span.started),
        "end_time": _iso(span.ended),
        "input": span.input,
        "output": span.output,
        "metadata": span.metadata,
        **span.fields,
    }
    if span.error_info:
        child["error_info"] = span.error_info
    return child


def _send(client: opik.Opik, record: dict[str, Any]) -> None:
    """The record through the SDK's client: the same ids and times as the outbox's."""
    project = record["project_name"]
    for span in record["spans"]:
        fields = {k: v for k, v in span.items() if k not in ("start_time", "end_time")}
        client.span(
            **fields,
            start_time=dt.datetime.fromisoformat(span["start_time"]),
            end_time=dt.datetime.fromisoformat(span["end_time"]),
            project_name=project,
        )
    trace = record["trace"]
    fields = {k: v for k, v in trace.items() if k not in ("start_time", "end_time")}
    client.trace(
        **fields,
        start_time=dt.datetime.fromisoformat(trace["start_time"]),
        end_time=dt.datetime.fromisoformat(trace["end_time"]),
        project_name=project,
    )
