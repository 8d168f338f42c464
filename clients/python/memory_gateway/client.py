"""The tenant client (:class:`MemoryGateway`) and the operator client (:class:`Operator`)."""

from __future__ import annotations

import os
import urllib.parse
from typing import Any, Iterable, Iterator, Optional

from .transport import Response, Transport
from .webhooks import _Webhooks

__version__ = "1.0.0"
_UNSET: Any = object()
_USER_AGENT = f"memory-gateway-python/{__version__}"
DEFAULT_BASE_URL = "http://localhost:8080"


def _resolve(api_key: Optional[str], base_url: Optional[str]) -> "tuple[str, str]":
    """The key (argument, else ``MEMORY_API_KEY``) and base URL (argument, else ``MEMORY_API_URL``,
    else http://localhost:8080). No key anywhere is an error now rather than a 401 later; a key
    given explicitly (even ``""``) is sent as given."""
    key = api_key if api_key is not None else os.environ.get("MEMORY_API_KEY")
    if key is None:
        raise ValueError("no API key: pass api_key=... or set MEMORY_API_KEY")
    url = base_url if base_url is not None else (os.environ.get("MEMORY_API_URL") or DEFAULT_BASE_URL)
    return key, url


def _quote(identifier: str) -> str:
    return urllib.parse.quote(str(identifier), safe="")


def _body(**fields: Any) -> dict:
    """A JSON body without the fields left out (``None``/unset); ``_UNSET`` marks "not given"."""
    return {name: value for name, value in fields.items() if value is not None and value is not _UNSET}


def _filters(space_id=None, source=None, metadata=None, updated_since=None, updated_before=None) -> dict:
    return {"space_id": space_id, "source": source, "metadata": metadata, "updated_since": updated_since,
            "updated_before": updated_before}


class _Memories:
    """``/v1/memories``: ``client.memories.create(text=…)`` and friends."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def create(self, text: str, *, metadata: Optional[dict] = None, memory_id: Optional[str] = None,
               space_id: Optional[str] = None, expires_at: Optional[str] = None, ttl_seconds: Optional[int] = None,
               idempotency_key: Optional[str] = None, idempotent: bool = False) -> Response:
        """POST /v1/memories (scope ``write``): the new memory. ``expires_at`` (RFC 3339) or
        ``ttl_seconds`` makes it expire: from then on it is gone as if deleted."""
        return self._t.request("POST", "/v1/memories", json=_body(text=text, metadata=metadata, memory_id=memory_id,
                                                                   space_id=space_id, expires_at=expires_at,
                                                                   ttl_seconds=ttl_seconds),
                               idempotency_key=idempotency_key, idempotent=idempotent)

    def get(self, memory_id: str, *, as_of: Optional[str] = None) -> Response:
        """GET /v1/memories/{id}; ``as_of`` (RFC 3339) gives the version current then."""
        return self._t.request("GET", f"/v1/memories/{_quote(memory_id)}", params={"as_of": as_of})

    def update(self, memory_id: str, *, text: Optional[str] = None, metadata: Optional[dict] = None,
               expires_at: Any = _UNSET, ttl_seconds: Optional[int] = None,
               idempotency_key: Optional[str] = None, idempotent: bool = False) -> Response:
        """PUT /v1/memories/{id}: replaces ``text`` and/or ``metadata`` and/or the expiry
        (``expires_at=None`` clears it; leaving both out keeps it); a new version."""
        body = _body(text=text, metadata=metadata, ttl_seconds=ttl_seconds)
        if expires_at is not _UNSET:
            body["expires_at"] = expires_at
        return self._t.request("PUT", f"/v1/memories/{_quote(memory_id)}", json=body,
                               idempotency_key=idempotency_key, idempotent=idempotent)

    def delete(self, memory_id: str, *, idempotency_key: Optional[str] = None, idempotent: bool = False) -> Response:
        """DELETE /v1/memories/{id} (scope ``delete``): ``{id, deleted: true}``; its history goes too."""
        return self._t.request("DELETE", f"/v1/memories/{_quote(memory_id)}", idempotency_key=idempotency_key,
                               idempotent=idempotent)

    def list(self, *, page: Optional[int] = None, per_page: Optional[int] = None, cursor: Optional[str] = None,
             space_id: Optional[str] = None, source: Optional[str] = None, metadata: Optional[dict] = None,
             updated_since: Optional[str] = None, updated_before: Optional[str] = None) -> Response:
        """GET /v1/memories: ``{memories, page, per_page, has_more, next_cursor}``, newest first.
        ``metadata={"topic": "billing"}`` becomes ``metadata.topic=billing``."""
        params = _filters(space_id, source, metadata, updated_since, updated_before)
        params.update(page=page, per_page=per_page, cursor=cursor)
        return self._t.request("GET", "/v1/memories", params=params)

    def iterate(self, *, per_page: int = 100, **filters: Any) -> Iterator[dict]:
        """Every memory matching the filters, following ``next_cursor`` page by page."""
        cursor = None
        while True:
            page = self.list(per_page=per_page, cursor=cursor, **filters)
            yield from page["memories"]
            cursor = page.get("next_cursor")
            if not page.get("has_more") or not cursor:
                return

    def count(self, *, space_id: Optional[str] = None, source: Optional[str] = None,
              metadata: Optional[dict] = None, updated_since: Optional[str] = None,
              updated_before: Optional[str] = None) -> int:
        """GET /v1/memories/count: the number of memories matching the filters."""
        params = _filters(space_id, source, metadata, updated_since, updated_before)
        return self._t.request("GET", "/v1/memories/count", params=params)["count"]

    def history(self, memory_id: str) -> list:
        """GET /v1/memories/{id}/history: the versions, newest first."""
        return self._t.request("GET", f"/v1/memories/{_quote(memory_id)}/history")["versions"]

    def batch(self, memories: Iterable[dict], *, on_conflict: str = "error", idempotency_key: Optional[str] = None,
              idempotent: bool = False) -> Response:
        """POST /v1/memories/batch (1–1,000 items, one transaction):
        ``{created, updated, skipped, memory_ids}``."""
        return self._t.request("POST", "/v1/memories/batch",
                               json={"memories": list(memories), "on_conflict": on_conflict},
                               idempotency_key=idempotency_key, idempotent=idempotent)

    def export(self, *, include_history: bool = False, space_id: Optional[str] = None,
               source: Optional[str] = None, metadata: Optional[dict] = None, updated_since: Optional[str] = None,
               updated_before: Optional[str] = None) -> Iterator[dict]:
        """GET /v1/memories/export: iterates the NDJSON stream, one memory (dict) at a time."""
        params = _filters(space_id, source, metadata, updated_since, updated_before)
        params["include_history"] = include_history or None
        return self._t.stream_lines("/v1/memories/export", params)

    def erase(self, *, space_id: Optional[str] = None, source: Optional[str] = None,
              metadata: Optional[dict] = None, updated_before: Optional[str] = None, everything: bool = False,
              idempotency_key: Optional[str] = None, idempotent: bool = False) -> int:
        """DELETE /v1/memories?confirm=true: erases every memory matching the filters, with its
        history, in one transaction; returns how many. Without any filter, pass ``everything=True``."""
        params = _filters(space_id, source, metadata, None, updated_before)
        if not everything and not any(value is not None for value in params.values()):
            raise ValueError("erase() without filters erases every memory: pass everything=True to mean it")
        params["confirm"] = True
        return self._t.request("DELETE", "/v1/memories", params=params, idempotency_key=idempotency_key,
                               idempotent=idempotent)["deleted"]


class _Spaces:
    """``/v1/spaces``."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def create(self, name: str, *, id: Optional[str] = None, description: Optional[str] = None,
               idempotency_key: Optional[str] = None, idempotent: bool = False) -> Response:
        return self._t.request("POST", "/v1/spaces", json=_body(id=id, name=name, description=description),
                               idempotency_key=idempotency_key, idempotent=idempotent)

    def list(self, *, page: Optional[int] = None, per_page: Optional[int] = None) -> Response:
        return self._t.request("GET", "/v1/spaces", params={"page": page, "per_page": per_page})

    def get(self, space_id: str) -> Response:
        return self._t.request("GET", f"/v1/spaces/{_quote(space_id)}")

    def update(self, space_id: str, *, name: Optional[str] = None, description: Any = _UNSET,
               idempotency_key: Optional[str] = None, idempotent: bool = False) -> Response:
        """PUT /v1/spaces/{id}; ``description=None`` clears the description."""
        body = _body(name=name)
        if description is not _UNSET:
            body["description"] = description
        return self._t.request("PUT", f"/v1/spaces/{_quote(space_id)}", json=body,
                               idempotency_key=idempotency_key, idempotent=idempotent)

    def delete(self, space_id: str, *, delete_memories: bool = False, idempotency_key: Optional[str] = None,
               idempotent: bool = False) -> Response:
        """DELETE /v1/spaces/{id}: its memories stay (without a space) unless ``delete_memories``."""
        return self._t.request("DELETE", f"/v1/spaces/{_quote(space_id)}",
                               params={"delete_memories": delete_memories or None},
                               idempotency_key=idempotency_key, idempotent=idempotent)


class _APIKeys:
    """``/v1/account/api-keys`` (scope ``admin``)."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def create(self, name: str, scopes: Iterable[str], *, environment: str = "live",
               expires_at: Optional[str] = None, rate_limit_per_minute: Optional[int] = None,
               allowed_ips: Optional[Iterable[str]] = None, idempotency_key: Optional[str] = None,
               idempotent: bool = False) -> Response:
        """A new key; its secret ``key`` is in this response only."""
        body = _body(name=name, scopes=list(scopes), environment=environment, expires_at=expires_at,
                     rate_limit_per_minute=rate_limit_per_minute,
                     allowed_ips=list(allowed_ips) if allowed_ips is not None else None)
        return self._t.request("POST", "/v1/account/api-keys", json=body, idempotency_key=idempotency_key,
                               idempotent=idempotent)

    def list(self) -> list:
        return self._t.request("GET", "/v1/account/api-keys")["api_keys"]

    def get(self, key_id: str) -> Response:
        return self._t.request("GET", f"/v1/account/api-keys/{_quote(key_id)}")

    def rotate(self, key_id: str, *, grace_seconds: Optional[int] = None, idempotency_key: Optional[str] = None,
               idempotent: bool = False) -> Response:
        """A new key with the same settings (``key`` shown once); the old one expires after the grace."""
        return self._t.request("POST", f"/v1/account/api-keys/{_quote(key_id)}/rotate",
                               json=_body(grace_seconds=grace_seconds), idempotency_key=idempotency_key,
                               idempotent=idempotent)

    def revoke(self, key_id: str, *, idempotency_key: Optional[str] = None, idempotent: bool = False) -> Response:
        """``{id, revoked_at}``; every instance refuses the key within a second."""
        return self._t.request("DELETE", f"/v1/account/api-keys/{_quote(key_id)}", idempotency_key=idempotency_key,
                               idempotent=idempotent)


class MemoryGateway:
    """A tenant's client: ``MemoryGateway(api_key)``, or ``MemoryGateway()`` with the key in
    ``MEMORY_API_KEY`` (and the base URL in ``MEMORY_API_URL``, default http://localhost:8080).

    Every method returns the envelope's ``data`` as a plain ``dict`` (a :class:`Response`, which
    also carries ``.meta`` and ``.request_id``); ``client.last_request_id`` is the request id of the
    last response, errors included. Errors raise :mod:`memory_gateway.errors` exceptions.

    ``max_retries`` (default 0) retries a 429 after its ``retry_after`` (never a memory quota,
    whose ``retry_after`` is ``None``) and a 503 of a read or of a write with an
    ``Idempotency-Key``, waiting at most ``max_retry_wait`` seconds each time.
    """

    def __init__(self, api_key: Optional[str] = None, base_url: Optional[str] = None, timeout: float = 10, *,
                 max_retries: int = 0, max_retry_wait: float = 30) -> None:
        api_key, base_url = _resolve(api_key, base_url)
        self._t = Transport(api_key, base_url, timeout, max_retries, max_retry_wait, _USER_AGENT)
        self.memories = _Memories(self._t)
        self.spaces = _Spaces(self._t)
        self.api_keys = _APIKeys(self._t)
        self.webhooks = _Webhooks(self._t)

    @property
    def last_request_id(self) -> Optional[str]:
        """``meta.request_id`` (or ``X-Request-ID``) of the last response, errors included."""
        return self._t.last_request_id

    @property
    def last_response(self) -> Optional[Response]:
        """The last successful JSON response (with ``.status``, ``.headers``, ``.meta``)."""
        return self._t.last_response

    def request(self, method: str, path: str, **options: Any) -> Any:
        """Any call: ``client.request("GET", "/v1/memories", params={…})``."""
        return self._t.request(method, path, **options)

    # -- query and extraction -----------------------------------------------------------------
    def query(self, context: str, *, max_memories: Optional[int] = None,
              relevance_threshold: Optional[float] = None, include_metadata: Optional[bool] = None,
              space_id: Optional[str] = None, filters: Optional[dict] = None, hybrid_search: Optional[bool] = None,
              temporal_boost: Optional[float] = None, language: Optional[str] = None, as_of: Optional[str] = None,
              count_below_threshold: Optional[bool] = None) -> Response:
        """POST /v1/query (scope ``read``): ``{memories: [{id, text, relevance_score, …}], query_context}``."""
        body = _body(context=context, max_memories=max_memories, relevance_threshold=relevance_threshold,
                     include_metadata=include_metadata, space_id=space_id, filters=filters,
                     hybrid_search=hybrid_search, temporal_boost=temporal_boost, language=language, as_of=as_of,
                     count_below_threshold=count_below_threshold)
        return self._t.request("POST", "/v1/query", json=body)

    def extract(self, content: str, *, content_type: Optional[str] = None, space_id: Optional[str] = None,
                metadata: Optional[dict] = None, idempotency_key: Optional[str] = None,
                idempotent: bool = False) -> Response:
        """POST /v1/query/extract (scope ``write``):
        ``{memories_created, memory_ids, extracted_memories, duplicates_skipped}``."""
        body = _body(content=content, content_type=content_type, space_id=space_id, metadata=metadata)
        return self._t.request("POST", "/v1/query/extract", json=body, idempotency_key=idempotency_key,
                               idempotent=idempotent)

    # -- usage and account --------------------------------------------------------------------
    def usage(self, *, environment: Optional[str] = None) -> Response:
        """GET /v1/usage: this period's requests, memories, alerts…"""
        return self._t.request("GET", "/v1/usage", params={"environment": environment})

    def usage_history(self, *, from_: Optional[str] = None, to: Optional[str] = None, key_id: Optional[str] = None,
                      environment: Optional[str] = None, format: Optional[str] = None) -> Any:
        """GET /v1/usage/history: ``{days: […]}``, or the CSV text with ``format="csv"``."""
        params = {"from": from_, "to": to, "key_id": key_id, "environment": environment, "format": format}
        return self._t.request("GET", "/v1/usage/history", params=params)

    def usage_projection(self, *, environment: Optional[str] = None) -> Response:
        """GET /v1/usage/projection: the period's projected requests and cost."""
        return self._t.request("GET", "/v1/usage/projection", params={"environment": environment})

    def account(self) -> Response:
        """GET /v1/account."""
        return self._t.request("GET", "/v1/account")

    def audit_log(self, *, per_page: Optional[int] = None, cursor: Optional[str] = None) -> Response:
        """GET /v1/account/audit-log (scope ``admin``): ``{events, next_cursor}``, newest first."""
        return self._t.request("GET", "/v1/account/audit-log", params={"per_page": per_page, "cursor": cursor})


class _Tenants:
    """``/v1/admin/tenants``."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def create(self, name: str, *, plan: Optional[str] = None, idempotency_key: Optional[str] = None,
               idempotent: bool = False) -> Response:
        """``{tenant, api_key}``: the tenant and its first admin key (secret shown once)."""
        return self._t.request("POST", "/v1/admin/tenants", json=_body(name=name, plan=plan),
                               idempotency_key=idempotency_key, idempotent=idempotent)

    def list(self) -> list:
        return self._t.request("GET", "/v1/admin/tenants")["tenants"]

    def get(self, tenant_id: str) -> Response:
        return self._t.request("GET", f"/v1/admin/tenants/{_quote(tenant_id)}")

    def update(self, tenant_id: str, *, plan: Optional[str] = None, suspended: Optional[bool] = None,
               limits: Optional[dict] = None, idempotency_key: Optional[str] = None,
               idempotent: bool = False) -> Response:
        """PATCH: ``limits={"rate_limit_per_minute": 1000}`` overrides the plan (``None`` inside
        ``limits`` returns that limit to the plan's value)."""
        body = _body(plan=plan, suspended=suspended)
        if limits is not None:
            body["limits"] = limits
        return self._t.request("PATCH", f"/v1/admin/tenants/{_quote(tenant_id)}", json=body,
                               idempotency_key=idempotency_key, idempotent=idempotent)


class Operator:
    """The operator's client for ``/v1/admin`` (the gateway's ``GATEWAY_OPERATOR_TOKEN``)."""

    def __init__(self, token: str, base_url: str = "http://localhost:8080", timeout: float = 10, *,
                 max_retries: int = 0, max_retry_wait: float = 30) -> None:
        self._t = Transport(token, base_url, timeout, max_retries, max_retry_wait, _USER_AGENT)
        self.tenants = _Tenants(self._t)

    @property
    def last_request_id(self) -> Optional[str]:
        return self._t.last_request_id

    def billing(self, period: str, *, format: Optional[str] = None) -> Any:
        """GET /v1/admin/billing?period=YYYY-MM: ``{period, tenants: [rows]}``, or CSV text."""
        return self._t.request("GET", "/v1/admin/billing", params={"period": period, "format": format})
