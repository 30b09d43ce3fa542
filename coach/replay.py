"""Delivers the outbox's traces and feedback scores to Opik, exactly once per trace id,
through the REST API the SDK uses (the records are :meth:`coach.tracing.Tracer.record`'s).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from coach.tracing import FEEDBACK_KIND, TRACE_KIND, OpikSettings, prepare_opik_environment

if TYPE_CHECKING:
    from opik.rest_api import OpikApi
    from opik.rest_api.core.api_error import ApiError

    from sync.store import Store

log = logging.getLogger(__name__)


@dataclass(slots=True)
class ReplayReport:
    """What one :meth:`TraceReplayer.replay_once` round did."""

    sent: int = 0
    already_there: int = 0
    deferred: int = 0
    retry: int = 0
    rejected: int = 0
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
    implies its spans do). ``live_origin`` is a running tracer's
    :attr:`~coach.tracing.Tracer.origin`, or None when no SDK runs here (then everything
    not in Opik is posted). Feedback waits for its trace. Not thread-safe: one caller at a time.
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
            where = self.settings.shown_url
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
            self.store.mark_rejected(item_id, f"unreadable trace record: {err}"[:500])
            report.rejected += 1
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
            self._refused(item_id, err, report)
            return True
        self.store.mark_sent(item_id)
        report.sent += 1
        return True

    def _refused(self, item_id: int, err: ApiError, report: ReplayReport) -> None:
        """Opik said no: busy (408, 429, 5xx) ends the round and the item is retried next
        round; anything else is final and the item is kept as rejected."""
        if _retryable(err.status_code):
            self.store.mark_retry(item_id, f"HTTP {err.status_code}")
            raise err
        self.store.mark_rejected(
            item_id, f"Opik refused it: HTTP {err.status_code} {err.body}"[:500]
        )
        report.rejected += 1

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
            self.store.mark_rejected(item_id, f"unreadable feedback record: {err}"[:500])
            report.rejected += 1
            return
        if trace_id in waiting:
            report.deferred += 1
            return
        try:
            api.traces.score_batch_of_traces(scores=[score])
        except ApiError as err:
            self._refused(item_id, err, report)
            return
        self.store.mark_sent(item_id)
        report.feedback_sent += 1


def _retryable(status: int | None) -> bool:
    return status is None or status in (408, 429) or status >= 500
