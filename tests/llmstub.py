"""An OpenAI-compatible ``/v1/chat/completions`` (and ``/v1/audio/speech``) server on
127.0.0.1, scripted by the test.

Not a test module. Run by :class:`LLMStub` as ``python -m tests.llmstub`` in its own
process, so the real ``openai`` client talks real HTTP to it. Standard library only: it
starts in a fraction of a second.

A test queues *steps*, consumed one per request in order; with none queued every request
gets the default answer. Steps::

    {"kind": "answer", "text": "...", "usage": {...}, "finish_reason": "stop"}
    {"kind": "status", "status": 429, "retry_after": "30"}      # or 500, 401, ...
    {"kind": "hang", "seconds": 30}    # hold the request (until /_release), then answer
    {"kind": "malformed"}              # 200, application/json, but not JSON
    {"kind": "shape"}                  # 200, JSON without "choices"

Control endpoints: ``POST /_script`` (append steps), ``POST /_default`` (the default
answer text), ``GET /_requests`` (every completion request received, with its model,
messages, temperature, max_tokens and whether it carried a key), ``GET /_holding`` (how
many requests are held right now), ``POST /_release`` (let held requests answer).

Text to speech: ``POST /v1/audio/speech`` takes the next step from the same queue; its
answer is a WAV (16-bit mono, 24 kHz like OpenAI's) of a quiet 440 Hz tone lasting
:data:`SPEECH_S_PER_CHAR` seconds per character of the input — so a test can tell which
text a WAV it played came from — or whatever the step says ("status", "hang",
"malformed": 200 with bytes that are not audio). ``GET /_speech`` lists those requests
(model, voice, input, response_format, instructions, speed, whether it carried a key);
they are not in ``/_requests``.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import sys
import threading
import time
import wave
from collections import deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.stubproc import StubProcess

DEFAULT_TEXT = (
    "Pitch is strong at 95%, but timing stability is low at 21% – "
    "set a metronome to 70 BPM and count aloud."
)
SPEECH_RATE = 24000
SPEECH_S_PER_CHAR = 0.01


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.steps: deque[dict[str, Any]] = deque()
        self.requests: list[dict[str, Any]] = []
        self.speech: list[dict[str, Any]] = []
        self.default_text = DEFAULT_TEXT
        self.holding = 0
        self.release = threading.Event()


STATE = _State()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the test reads /_requests instead

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        return json.loads(raw) if raw else None

    def _send(
        self,
        status: int,
        body: bytes | None = None,
        *,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        body = body or b""
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, data: Any, **kwargs: Any) -> None:
        self._send(status, json.dumps(data).encode(), **kwargs)

    def do_GET(self) -> None:
        if self.path == "/_requests":
            with STATE.lock:
                self._json(200, STATE.requests)
        elif self.path == "/_speech":
            with STATE.lock:
                self._json(200, STATE.speech)
        elif self.path == "/_holding":
            with STATE.lock:
                self._json(200, {"holding": STATE.holding})
        elif self.path == "/healthz":
            self._json(200, {"ok": True})
        else:
            self._json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self) -> None:
        body = self._body()
        if self.path == "/_script":
            with STATE.lock:
                STATE.steps.extend(body)
                STATE.release.clear()
            self._json(200, {"queued": len(STATE.steps)})
        elif self.path == "/_default":
            STATE.default_text = body["text"]
            self._json(200, {})
        elif self.path == "/_release":
            STATE.release.set()
            self._json(200, {})
        elif self.path.endswith("/chat/completions"):
            self._completion(body)
        elif self.path.endswith("/audio/speech"):
            self._speech(body)
        else:
            self._json(404, {"error": {"message": f"no route {self.path}"}})

    def _speech(self, request: dict[str, Any]) -> None:
        with STATE.lock:
            STATE.speech.append(
                {
                    key: request.get(key)
                    for key in ("model", "voice", "input", "response_format", "instructions")
                }
                | {
                    "speed": request.get("speed"),
                    "authorized": self.headers.get("Authorization", "").startswith("Bearer "),
                }
            )
            step = STATE.steps.popleft() if STATE.steps else {"kind": "answer"}
        kind = _hold(step)
        if kind == "status":
            self._status(step)
        elif kind == "malformed":
            self._send(200, b"<html>not audio</html>", content_type="audio/wav")
        else:
            self._send(200, speech_wav(str(request.get("input", ""))), content_type="audio/wav")

    def _status(self, step: dict[str, Any]) -> None:
        status = int(step["status"])
        headers = {"Retry-After": str(step["retry_after"])} if "retry_after" in step else {}
        error = {"message": f"stub says {status}", "type": "stub_error", "code": None}
        self._json(status, {"error": error}, headers=headers)

    def _completion(self, request: dict[str, Any]) -> None:
        with STATE.lock:
            STATE.requests.append(
                {
                    "model": request.get("model"),
                    "messages": request.get("messages"),
                    "temperature": request.get("temperature"),
                    "max_tokens": request.get("max_tokens"),
                    "authorized": self.headers.get("Authorization", "").startswith("Bearer "),
                }
            )
            step = STATE.steps.popleft() if STATE.steps else {"kind": "answer"}
        kind = step["kind"]
        if kind == "hang":
            with STATE.lock:
                STATE.holding += 1
            try:
                STATE.release.wait(step.get("seconds", 30))
            finally:
                with STATE.lock:
                    STATE.holding -= 1
            kind = "answer"
        if kind == "status":
            status = int(step["status"])
            headers = {"Retry-After": str(step["retry_after"])} if "retry_after" in step else {}
            error = {"message": f"stub says {status}", "type": "stub_error", "code": None}
            self._json(status, {"error": error}, headers=headers)
        elif kind == "malformed":
            self._send(200, b'{"id": "chatcmpl-stub", "choices": [ {"mess')
        elif kind == "shape":
            self._json(200, {"id": "chatcmpl-stub", "object": "chat.completion"})
        else:
            self._json(200, _completion(request, step))


def _hold(step: dict[str, Any]) -> str:
    """A "hang" step: hold the request until released (or its time is up), then answer."""
    if step["kind"] != "hang":
        return str(step["kind"])
    with STATE.lock:
        STATE.holding += 1
    try:
        STATE.release.wait(step.get("seconds", 30))
    finally:
        with STATE.lock:
            STATE.holding -= 1
    return "answer"


def speech_wav(text: str) -> bytes:
    """The stub's "speech": :data:`SPEECH_S_PER_CHAR` s of a quiet tone per character."""
    frames = max(1, round(len(text) * SPEECH_S_PER_CHAR * SPEECH_RATE))
    samples = b"".join(
        int(3000 * math.sin(2 * math.pi * 440 * i / SPEECH_RATE)).to_bytes(2, "little", signed=True)
        for i in range(frames)
    )
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(SPEECH_RATE)
        out.writeframes(samples)
    return buffer.getvalue()


def _completion(request: dict[str, Any], step: dict[str, Any]) -> dict[str, Any]:
    text = step.get("text", STATE.default_text)
    usage = step.get("usage") or {"prompt_tokens": 120, "completion_tokens": 28}
    usage = {**usage, "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"]}
    return {
        "id": f"chatcmpl-stub-{len(STATE.requests)}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", "stub"),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": text},
                "finish_reason": step.get("finish_reason", "stop"),
            }
        ],
        "usage": usage,
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timed out) on a held request is expected here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    server = _Server(("127.0.0.1", args.port), Handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


class LLMStub(StubProcess):
    """The stub in a subprocess; a context manager. ``base_url`` ends in ``/v1``."""

    module = "tests.llmstub"
    label = "LLM stub"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _call(self, method: str, path: str, data: Any = None) -> Any:
        import requests

        response = requests.request(
            method, f"http://127.0.0.1:{self.port}{path}", json=data, timeout=5
        )
        response.raise_for_status()
        return response.json()

    def script(self, *steps: dict[str, Any]) -> None:
        self._call("POST", "/_script", list(steps))

    def set_default(self, text: str) -> None:
        self._call("POST", "/_default", {"text": text})

    def requests(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/_requests"))

    def speech_requests(self) -> list[dict[str, Any]]:
        """Every ``/audio/speech`` request received (see the module docstring)."""
        return list(self._call("GET", "/_speech"))

    def holding(self) -> int:
        return int(self._call("GET", "/_holding")["holding"])

    def release(self) -> None:
        self._call("POST", "/_release")

    def wait_holding(self, count: int = 1, timeout: float = 10.0) -> None:
        """Wait until ``count`` requests are held (a hang step reached the server)."""
        deadline = time.monotonic() + timeout
        while self.holding() < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"the stub never held {count} request(s)")
            time.sleep(0.02)


if __name__ == "__main__":
    main()
