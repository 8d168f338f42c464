"""HTTP plumbing shared by :class:`MemoryGateway` and :class:`Operator` (urllib only)."""

from __future__ import annotations

import json as jsonlib
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from typing import Any, Iterator, Optional

from .errors import ConnectionFailed, GatewayError, RateLimitError, ServiceUnavailableError, error_from_response

WRITE_METHODS = {"POST", "PUT", "PATCH", "DELETE"}


class Meta(dict):
    """The envelope's ``meta``: a ``dict`` whose keys also read as attributes
    (``response.meta.request_id``, ``response.meta.processing_time_ms``); a key the gateway did not
    send reads as ``None``."""

    request_id: Optional[str]
    processing_time_ms: Optional[int]

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self.get(name)


class Response(dict):
    """The ``data`` of a success envelope: a plain ``dict`` (``response["id"]``), plus the envelope's
    ``meta`` (:class:`Meta`: ``response.meta.request_id``), the ``request_id``, the HTTP ``status``,
    the (lower-cased) ``headers`` and ``replayed`` (``Idempotent-Replayed: true``)."""

    meta: Meta
    request_id: Optional[str]
    status: int
    headers: dict
    replayed: bool


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):  # the API never redirects; never follow one with a key
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def _query_string(params: Optional[dict]) -> str:
    if not params:
        return ""
    pairs = []
    for name, value in params.items():
        if value is None:
            continue
        if name == "metadata" and isinstance(value, dict):
            for key, item in value.items():
                pairs.append((f"metadata.{key}", _scalar(item)))
            continue
        pairs.append((name, _scalar(value)))
    return ("?" + urllib.parse.urlencode(pairs, quote_via=urllib.parse.quote)) if pairs else ""


def _scalar(value: Any) -> str:
    if value is True:
        return "true"
    if value is False:
        return "false"
    if value is None:
        return "null"
    return str(value)


class Transport:
    """One base URL and one credential; remembers the last response's request id."""

    def __init__(self, token: str, base_url: str, timeout: float, max_retries: int, max_retry_wait: float,
                 user_agent: str) -> None:
        self.token = token
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait
        self.user_agent = user_agent
        self.last_request_id: Optional[str] = None
        self.last_response: Optional[Response] = None

    # -- one exchange -------------------------------------------------------------------------
    def _open(self, method: str, path: str, params: Optional[dict], body: Any, idempotency_key: Optional[str],
              accept: Optional[str], request_id: Optional[str]):
        url = self.base_url + path + _query_string(params)
        headers = {"User-Agent": self.user_agent, "Accept": accept or "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        data = None
        if body is not None:
            data = jsonlib.dumps(body, ensure_ascii=False).encode("utf-8")
            headers["Content-Type"] = "application/json"
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        if request_id is not None:
            headers["X-Request-ID"] = request_id
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            return _opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as failure:
            raw = failure.read()
            response_headers = {k.lower(): v for k, v in failure.headers.items()}
            try:
                parsed: Any = jsonlib.loads(raw.decode("utf-8")) if raw else None
            except (ValueError, UnicodeDecodeError):
                parsed = raw.decode("utf-8", "replace")
            error = error_from_response(failure.code, response_headers, parsed)
            self.last_request_id = error.request_id
            raise error from None
        except (urllib.error.URLError, socket.timeout, ConnectionError, TimeoutError) as failure:
            reason = getattr(failure, "reason", failure)
            raise ConnectionFailed(f"cannot reach {self.base_url}: {reason}", code="connection_failed") from None

    def _with_retries(self, method: str, idempotency_key: Optional[str], retries: Optional[int], attempt):
        """Runs ``attempt()``; on 429 with a ``retry_after`` (never a memory quota) and on 503 (only
        for reads and for writes carrying an ``Idempotency-Key``) sleeps and tries again, at most
        ``retries`` times, never waiting longer than ``max_retry_wait`` seconds at once."""
        budget = self.max_retries if retries is None else retries
        while True:
            try:
                return attempt()
            except (RateLimitError, ServiceUnavailableError) as error:
                safe = isinstance(error, RateLimitError) or method not in WRITE_METHODS or idempotency_key
                if budget <= 0 or not safe or error.retry_after is None or error.retry_after > self.max_retry_wait:
                    raise
                budget -= 1
                time.sleep(max(error.retry_after, 1))

    # -- JSON calls ---------------------------------------------------------------------------
    def request(self, method: str, path: str, *, params: Optional[dict] = None, json: Any = None,
                idempotency_key: Optional[str] = None, idempotent: bool = False, retries: Optional[int] = None,
                request_id: Optional[str] = None, accept: Optional[str] = None) -> Any:
        """One call; returns the envelope's ``data`` as a :class:`Response` (or ``str`` for CSV)."""
        if idempotent and idempotency_key is None:
            idempotency_key = str(uuid.uuid4())

        def attempt():
            with self._open(method, path, params, json, idempotency_key, accept, request_id) as response:
                raw = response.read()
                headers = {k.lower(): v for k, v in response.headers.items()}
                status = response.status
            self.last_request_id = headers.get("x-request-id")
            if not headers.get("content-type", "").startswith("application/json"):
                return raw.decode("utf-8")
            envelope = jsonlib.loads(raw.decode("utf-8")) if raw else {}
            result = Response(envelope.get("data") or {})
            result.meta = Meta(envelope.get("meta") or {})
            result.request_id = result.meta.get("request_id") or headers.get("x-request-id")
            result.status = status
            result.headers = headers
            result.replayed = headers.get("idempotent-replayed") == "true"
            self.last_request_id = result.request_id
            self.last_response = result
            return result

        return self._with_retries(method, idempotency_key, retries, attempt)

    def stream_lines(self, path: str, params: Optional[dict]) -> Iterator[dict]:
        """GET an NDJSON stream, yielding one parsed object per line."""
        response = self._with_retries("GET", None, None, lambda: self._open("GET", path, params, None, None,
                                                                               "application/x-ndjson", None))
        with response:
            self.last_request_id = response.headers.get("X-Request-ID")
            for line in response:
                line = line.strip()
                if not line:
                    continue
                item = jsonlib.loads(line.decode("utf-8"))
                if "error" in item and "id" not in item:
                    raise GatewayError(item["error"].get("message", "export interrupted"),
                                       code=item["error"].get("code", "internal_error"), status=200,
                                       request_id=self.last_request_id)
                yield item
