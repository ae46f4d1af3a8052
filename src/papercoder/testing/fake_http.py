"""The machinery shared by the fake model servers: real sockets on 127.0.0.1, a script.

A server answers each request with the next :class:`Reply` of its script (a list consumed in
order) or with what a function of the request body returns, so concurrent callers can be
answered by what they ask. Every request is recorded. Simulated latency (time to first token,
prefill and decode rates) and a prompt cache that behaves like a provider's (see
:class:`PrefixCache`) make a fake behave like a real model in benchmarks.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer, or a fault to produce instead.

    ``fault`` is one of: "rate_limit" (429 with ``retry_after``), "server" (``status``, 500 by
    default), "overloaded" (529), "context_length" (the provider's error body, with ``limit``),
    "malformed" (a 200 whose body is not JSON), "drop" (close the connection unanswered),
    "bad_request" (400 with ``text`` as the message), "cut_stream" (OpenAI streaming: ``text`` in
    one chunk, then the connection closes before the answer ends).
    """

    text: str = ""
    finish_reason: str = "stop"  # "stop" or "length"; each server maps it to its own vocabulary
    delay: float = 0.0  # seconds before anything is sent (a slow reply past a timeout)
    fault: str | None = None
    status: int | None = None
    retry_after: float | None = None
    limit: int = 4096  # the context length a "context_length" fault reports
    input_tokens: int | None = None  # usage overrides; default: about four characters a token
    output_tokens: int | None = None
    cached_input_tokens: int = 0
    reasoning_tokens: int = 0
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def rate_limited(cls, retry_after: float | None = 0.05) -> "Reply":
        return cls(fault="rate_limit", retry_after=retry_after)

    @classmethod
    def server_error(cls, status: int = 500) -> "Reply":
        return cls(fault="server", status=status)

    @classmethod
    def context_length(cls, limit: int = 4096) -> "Reply":
        return cls(fault="context_length", limit=limit)

    @classmethod
    def malformed(cls) -> "Reply":
        return cls(fault="malformed")

    @classmethod
    def dropped(cls) -> "Reply":
        return cls(fault="drop")

    @classmethod
    def slow(cls, seconds: float, text: str = "late") -> "Reply":
        return cls(text=text, delay=seconds)

    @classmethod
    def truncated(cls, text: str = "cut") -> "Reply":
        return cls(text=text, finish_reason="length")


@dataclass
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any  # parsed JSON, or None
    time: float  # time.monotonic() on arrival


Script = Callable[[Any], "str | Reply"]


class PrefixCache:
    """A provider's prompt cache under the strict rule real ones follow.

    A prompt's leading tokens are served from the cache only when an earlier request with the
    same start had *finished its prefill* when this one arrived: requests sent together all
    miss. Hits count in blocks of ``block`` tokens and only from ``minimum`` tokens on (OpenAI:
    128 and 1024). With ``points`` (Anthropic's ``cache_control`` breakpoints, as character
    offsets) only prefixes ending at a breakpoint are written and read.
    """

    def __init__(self, block: int = 128, minimum: int = 1024):
        self.block = block
        self.minimum = minimum
        self._prompts: list[tuple[float, str]] = []  # (prefill done at, prompt): free-form caching
        self._points: dict[str, float] = {}  # prefix at a breakpoint -> prefill done at
        self._lock = threading.Lock()

    def lookup(self, prompt: str, now: float, points: list[int] | None = None) -> int:
        """Cached tokens of ``prompt`` for a request arriving at ``now`` (``time.monotonic()``)."""
        with self._lock:
            if points is not None:  # a breakpoint's whole prefix or nothing: no blocks
                tokens = max((p for p in points if self._points.get(prompt[:p], float("inf")) <= now), default=0) // 4
            else:
                chars = max((_common_prefix(prompt, earlier) for done, earlier in self._prompts if done <= now), default=0)
                tokens = chars // 4 // self.block * self.block
        return tokens if tokens >= self.minimum else 0

    def store(self, prompt: str, done: float, points: list[int] | None = None) -> None:
        """Remember ``prompt`` as cached from ``done`` on, when its prefill finishes."""
        with self._lock:
            if points is None:
                self._prompts.append((done, prompt))
                return
            for p in points:
                self._points[prompt[:p]] = min(done, self._points.get(prompt[:p], done))


def _common_prefix(a: str, b: str) -> int:
    """Length of the longest common prefix of ``a`` and ``b``."""
    low, high = 0, min(len(a), len(b))
    while low < high:  # binary search on slices: fast in C, fine for prompts of 100k characters
        mid = (low + high + 1) // 2
        if a[:mid] == b[:mid]:
            low = mid
        else:
            high = mid - 1
    return low


class FakeServer:
    """Base of the fake servers: sockets, script, recording, latency. Use as a context manager."""

    def __init__(
        self,
        replies: list[str | Reply] | Script | None = None,
        *,
        ttft: float = 0.0,
        tokens_per_second: float | None = None,
        models: tuple[str, ...] = ("fake-model",),
        hidden_tokens: int = 0,
        prefill_tokens_per_second: float | None = None,
        prefix_cache: PrefixCache | None = None,
    ):
        self.hidden_tokens = hidden_tokens  # a reasoning model: hidden tokens spent before each answer
        self.prefill_tokens_per_second = prefill_tokens_per_second  # uncached input, before the first token
        self.cache = prefix_cache  # None: no cache; usage reports what the reply script says
        self._replies: list[str | Reply] | Script = replies if replies is not None else []
        self.ttft = ttft
        self.tokens_per_second = tokens_per_second
        self.models = models
        self.requests: list[RecordedRequest] = []
        self.problems: list[str] = []  # requests the script could not answer
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    # -- lifecycle --------------------------------------------------------------------------

    def __enter__(self) -> "FakeServer":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        handler = type("Handler", (_Handler,), {"fake": self})
        httpd = _Server(("127.0.0.1", 0), handler, bind_and_activate=False)
        httpd.daemon_threads = True
        httpd.request_queue_size = 256
        httpd.server_bind()
        httpd.server_activate()
        self._httpd = httpd
        self._port = httpd.server_address[1]
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    @property
    def port(self) -> int:
        assert self._port is not None, "the server was never started; use it in a with block"
        return self._port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- scripting --------------------------------------------------------------------------

    def script(self, replies: list[str | Reply] | Script) -> None:
        """Replace the script (a list answered in order, or a function of the request body)."""
        with self._lock:
            self._replies = replies

    def next_reply(self, body: Any) -> Reply | None:
        with self._lock:
            replies = self._replies
            if callable(replies):
                source: str | Reply | None = None
            elif replies:
                source = replies.pop(0)
            else:
                self.problems.append("script exhausted")
                return None
        if callable(replies):
            source = replies(body)
        return Reply(text=source) if isinstance(source, str) else source

    def think(self, reply: Reply, limit: int | None) -> Reply:
        """``reply`` as a reasoning model with ``hidden_tokens`` would give it under ``limit``.

        The hidden tokens come first and count against the limit; what is left holds the
        answer, cut (to nothing, if nothing is left) with finish reason "length" when it does
        not fit. Usage reports the hidden tokens as reasoning tokens, inside the output tokens.
        """
        if not self.hidden_tokens or reply.fault:
            return reply
        hidden = self.hidden_tokens if limit is None else min(self.hidden_tokens, limit)
        room = None if limit is None else limit - hidden
        text, finish = reply.text, reply.finish_reason
        if room is not None and count_tokens(text) > room:
            text, finish = text[: max(0, room) * 4], "length"
        visible = reply.output_tokens if reply.output_tokens is not None and text == reply.text else count_tokens(text) if text else 0
        return replace(reply, text=text, finish_reason=finish, reasoning_tokens=hidden, output_tokens=visible + hidden)

    @property
    def metadata_requests(self) -> list[RecordedRequest]:
        """Requests about the server (model lists, context windows), apart from the model calls."""
        if not hasattr(self, "_metadata"):
            self._metadata: list[RecordedRequest] = []
        return self._metadata

    def record(self, request: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def prefill(self, reply: Reply, prompt: str, input_tokens: int, arrived: float,
                points: list[int] | None = None) -> tuple[Reply, float]:
        """``reply`` with the cached input tokens the cache serves, and the seconds to the first token.

        The prompt is stored in the cache as processed once its prefill is done, so a request
        arriving after that hits it and one arriving before does not.
        """
        cached = reply.cached_input_tokens
        if self.cache is not None and not cached:
            cached = min(input_tokens, self.cache.lookup(prompt, arrived, points))
            reply = replace(reply, cached_input_tokens=cached)
        seconds = self.ttft
        if self.prefill_tokens_per_second:
            seconds += max(0, input_tokens - cached) / self.prefill_tokens_per_second
        if self.cache is not None:
            self.cache.store(prompt, arrived + seconds, points)
        return reply, seconds

    def generation_seconds(self, output_tokens: int) -> float:
        """Simulated time to produce an answer, after time to first token."""
        if not self.tokens_per_second:
            return 0.0
        return output_tokens / self.tokens_per_second

    # -- what subclasses provide ---------------------------------------------------------------

    def handle(self, handler: "_Handler", method: str, path: str, body: Any) -> None:  # pragma: no cover
        raise NotImplementedError


def count_tokens(text: str) -> int:
    """The fake's token count: about four characters a token."""
    return len(text) // 4 + 1


class _Server(ThreadingHTTPServer):
    """The HTTP server, quiet when a client goes away mid-request (a killed worker, a cancelled
    call): a real provider does not print a traceback for that either."""

    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    fake: FakeServer
    arrived: float
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once, not 40 ms apart

    def log_message(self, format: str, *args: Any) -> None:  # silence the default stderr log
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        path = self.path.split("?", 1)[0]
        self.arrived = time.monotonic()  # when the request was received: the prompt cache's clock
        recorded = RecordedRequest(method, path, {k.lower(): v for k, v in self.headers.items()}, body, self.arrived)
        if method == "GET" or path.startswith("/api/"):  # what a client asks about the server, not a model call
            self.fake.metadata_requests.append(recorded)
        else:
            self.fake.record(recorded)
        try:
            self.fake.handle(self, method, path, body)
        except (BrokenPipeError, ConnectionResetError):  # the client gave up (a timeout): fine
            self.close_connection = True

    # -- helpers for subclasses -----------------------------------------------------------------

    def send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self.send_body(status, json.dumps(payload).encode(), "application/json", headers)

    def send_body(self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def start_events(self, headers: dict[str, str] | None = None) -> None:
        """Begin a server-sent-events answer (chunked transfer encoding)."""
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()

    def send_event(self, data: str, event: str | None = None) -> None:
        text = (f"event: {event}\n" if event else "") + f"data: {data}\n\n"
        chunk = text.encode()
        self.wfile.write(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
        self.wfile.flush()

    def end_events(self) -> None:
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def drop(self) -> None:
        """Close the connection without an answer."""
        self.close_connection = True
        try:
            self.connection.shutdown(2)
        except OSError:
            pass


def image_text(data: str, provider: str = "") -> str:
    """An image as the fakes' prompt text: a digest padded to four characters per token it costs.

    Real servers bill an image by its pixels, not its base64 length; so do the fakes, and their
    prefix cache sees an image as so many tokens of its own, equal only when the bytes are.
    """
    import base64
    import hashlib
    import struct

    from papercoder.tokens import image_tokens

    try:
        head = base64.b64decode(data[:64] + "=" * (-len(data[:64]) % 4))
        width, height = struct.unpack(">II", head[16:24]) if head.startswith(b"\x89PNG") else (512, 512)
    except (ValueError, struct.error):
        width, height = 512, 512
    tag = f"<image {hashlib.sha256(data.encode('ascii', 'replace')).hexdigest()[:16]}>"
    return tag.ljust(image_tokens(width, height, provider) * 4, "#")
