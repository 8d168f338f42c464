"""Typed exceptions for the gateway's error envelope.

Every error the gateway answers with becomes a :class:`GatewayError` subclass carrying the stable
``code``, the human ``message``, the field ``details``, the HTTP ``status`` and the ``request_id``
(``meta.request_id``: quote it when you ask for help).
"""

from __future__ import annotations

from typing import Any, Optional


class GatewayError(Exception):
    """An error answered by the gateway (or a failure to reach it: ``status`` 0)."""

    def __init__(self, message: str, *, code: str = "", status: int = 0, details: Optional[list] = None,
                 request_id: Optional[str] = None, retry_after: Optional[int] = None,
                 headers: Optional[dict] = None, body: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.details = details or []
        self.request_id = request_id
        self.retry_after = retry_after
        self.headers = headers or {}
        self.body = body

    def __str__(self) -> str:
        text = f"{self.status} {self.code}: {self.message}"
        if self.details:
            text += " (" + "; ".join(f"{d.get('field')}: {d.get('message')}" for d in self.details) + ")"
        if self.request_id:
            text += f" [request_id={self.request_id}]"
        return text


class ConnectionFailed(GatewayError):
    """The gateway could not be reached (refused, reset, timed out)."""


class InvalidRequestError(GatewayError):
    """400 ``invalid_request``: fix the request; ``details`` lists ``{field, message}``."""


class AuthenticationError(GatewayError):
    """401 ``missing_api_key`` / ``invalid_api_key``."""


class PermissionDeniedError(GatewayError):
    """403 ``insufficient_scope`` / ``ip_not_allowed`` / ``tenant_suspended``."""


class NotFoundError(GatewayError):
    """404 ``not_found``."""


class MethodNotAllowedError(GatewayError):
    """405 ``method_not_allowed``."""


class ConflictError(GatewayError):
    """409 ``conflict``: a custom id is taken, or the object's state forbids the change."""


class IdempotencyConflictError(ConflictError):
    """409 ``idempotency_conflict``: the key was used with another request, or is still in flight."""


class PayloadTooLargeError(GatewayError):
    """413 / 414 / 431: the body, the URL or the headers are over the gateway's limits."""


class UnsupportedMediaTypeError(GatewayError):
    """415 ``unsupported_media_type``."""


class RateLimitError(GatewayError):
    """429 ``rate_limit_exceeded`` / ``quota_exceeded``.

    ``retry_after`` is the whole seconds to wait before one request is admitted, or ``None`` for a
    memory quota (waiting does not help: delete memories or change plan).
    """


class QuotaExceededError(RateLimitError):
    """429 ``quota_exceeded``: the monthly request quota (``retry_after`` = seconds until the next
    period) or the hard memory quota (``retry_after`` is ``None``)."""


class ServerError(GatewayError):
    """500 ``internal_error`` / 501 ``not_implemented``."""


class ServiceUnavailableError(GatewayError):
    """503 ``service_unavailable``: retry after ``retry_after`` seconds."""


_BY_CODE = {
    "invalid_request": InvalidRequestError,
    "missing_api_key": AuthenticationError,
    "invalid_api_key": AuthenticationError,
    "insufficient_scope": PermissionDeniedError,
    "ip_not_allowed": PermissionDeniedError,
    "tenant_suspended": PermissionDeniedError,
    "not_found": NotFoundError,
    "method_not_allowed": MethodNotAllowedError,
    "conflict": ConflictError,
    "idempotency_conflict": IdempotencyConflictError,
    "payload_too_large": PayloadTooLargeError,
    "uri_too_long": PayloadTooLargeError,
    "header_fields_too_large": PayloadTooLargeError,
    "unsupported_media_type": UnsupportedMediaTypeError,
    "rate_limit_exceeded": RateLimitError,
    "quota_exceeded": QuotaExceededError,
    "internal_error": ServerError,
    "not_implemented": ServerError,
    "service_unavailable": ServiceUnavailableError,
}

_BY_STATUS = {400: InvalidRequestError, 401: AuthenticationError, 403: PermissionDeniedError,
              404: NotFoundError, 405: MethodNotAllowedError, 409: ConflictError, 413: PayloadTooLargeError,
              414: PayloadTooLargeError, 415: UnsupportedMediaTypeError, 429: RateLimitError,
              431: PayloadTooLargeError, 503: ServiceUnavailableError}


def error_from_response(status: int, headers: dict, body: Any) -> GatewayError:
    """Builds the typed exception for an error response (``body`` parsed JSON, or raw text)."""
    error = body.get("error") if isinstance(body, dict) else None
    meta = body.get("meta") if isinstance(body, dict) else None
    request_id = (meta or {}).get("request_id") or headers.get("x-request-id")
    if not isinstance(error, dict):
        error = {"code": "", "message": (body if isinstance(body, str) else "") or f"HTTP {status}"}
    code = error.get("code") or ""
    retry_after = error.get("retry_after")
    if retry_after is None and "retry_after" not in error and headers.get("retry-after"):
        try:
            retry_after = int(headers["retry-after"])
        except ValueError:
            retry_after = None
    cls = _BY_CODE.get(code) or _BY_STATUS.get(status) or (ServerError if status >= 500 else GatewayError)
    return cls(error.get("message") or f"HTTP {status}", code=code, status=status, details=error.get("details"),
               request_id=request_id, retry_after=retry_after, headers=headers, body=body)
