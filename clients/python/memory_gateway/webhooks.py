"""Webhooks: ``client.webhooks`` (subscriptions, test events, delivery history) and
:func:`verify_webhook`, which checks a delivery's Standard Webhooks signature in a receiver."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
import urllib.parse
from typing import Any, Mapping, Optional, Union

from .transport import Response, Transport

#: How far a delivery's ``webhook-timestamp`` may be from now (seconds) before it is refused as a replay.
DEFAULT_TOLERANCE = 300


class WebhookVerificationError(Exception):
    """The delivery is not from the gateway (bad or missing signature) or is too old (a replay)."""


class _Webhooks:
    """``/v1/webhooks`` (scope ``admin``): ``client.webhooks.create(url=…, events=[…])`` and friends."""

    def __init__(self, transport: Transport) -> None:
        self._t = transport

    def create(self, url: str, events: list, *, description: Optional[str] = None,
               idempotency_key: Optional[str] = None) -> Response:
        """POST /v1/webhooks: the webhook with its ``secret`` (shown only here: keep it)."""
        body = {"url": url, "events": list(events)}
        if description is not None:
            body["description"] = description
        return self._t.request("POST", "/v1/webhooks", json=body, idempotency_key=idempotency_key)

    def list(self) -> list:
        """GET /v1/webhooks: the tenant environment's webhooks, newest first."""
        return self._t.request("GET", "/v1/webhooks")["webhooks"]

    def get(self, webhook_id: str) -> Response:
        """GET /v1/webhooks/{id} (without the secret)."""
        return self._t.request("GET", f"/v1/webhooks/{urllib.parse.quote(webhook_id, safe='')}")

    def delete(self, webhook_id: str) -> Response:
        """DELETE /v1/webhooks/{id}: ``{id, deleted: true}``; undelivered events are dropped."""
        return self._t.request("DELETE", f"/v1/webhooks/{urllib.parse.quote(webhook_id, safe='')}")

    def test(self, webhook_id: str) -> Response:
        """POST /v1/webhooks/{id}/test: queues a ``webhook.test`` event for that webhook alone."""
        return self._t.request("POST", f"/v1/webhooks/{urllib.parse.quote(webhook_id, safe='')}/test")

    def deliveries(self, webhook_id: str, *, limit: Optional[int] = None, cursor: Optional[str] = None) -> Response:
        """GET /v1/webhooks/{id}/deliveries: ``{deliveries, next_cursor}``, newest first."""
        return self._t.request("GET", f"/v1/webhooks/{urllib.parse.quote(webhook_id, safe='')}/deliveries",
                               params={"limit": limit, "cursor": cursor})


def _header(headers: Mapping[str, str], name: str) -> Optional[str]:
    for key, value in headers.items():
        if key.lower() == name:
            return value
    return None


def verify_webhook(secret: str, headers: Mapping[str, str], body: Union[bytes, str], *,
                   tolerance: int = DEFAULT_TOLERANCE, now: Optional[float] = None) -> Any:
    """Checks a delivery and returns its parsed JSON ``{type, timestamp, data}``.

    ``secret`` is the webhook's ``whsec_…`` secret, ``headers`` the request's headers (any case),
    ``body`` the raw body exactly as received (do not re-serialise parsed JSON). Raises
    :class:`WebhookVerificationError` when no ``v1`` signature matches or the timestamp is more than
    ``tolerance`` seconds away (a replay). Use ``webhook-id`` to drop duplicates: delivery is at
    least once.
    """
    import json

    raw = body.encode() if isinstance(body, str) else bytes(body)
    message_id = _header(headers, "webhook-id")
    timestamp = _header(headers, "webhook-timestamp")
    signatures = _header(headers, "webhook-signature")
    if not message_id or not timestamp or not signatures:
        raise WebhookVerificationError("missing webhook-id, webhook-timestamp or webhook-signature")
    try:
        sent_at = int(timestamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not a number") from None
    if abs((time.time() if now is None else now) - sent_at) > tolerance:
        raise WebhookVerificationError("webhook-timestamp is too far from now")
    encoded = secret[len("whsec_"):] if secret.startswith("whsec_") else secret
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise WebhookVerificationError("the secret is not a whsec_ secret") from None
    expected = base64.b64encode(hmac.new(key, f"{message_id}.{sent_at}.".encode() + raw, hashlib.sha256).digest())
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(value.encode(), expected):
            return json.loads(raw)
    raise WebhookVerificationError("no signature matches")
