"""A small, stdlib-only client for the Memory Gateway v1 API.

    from memory_gateway import MemoryGateway
    client = MemoryGateway("mem_live_…", base_url="http://localhost:8080")
    client.memories.create(text="User prefers Python", metadata={"topic": "language"})
    client.query(context="which language does the user prefer?")
"""

from .client import MemoryGateway, Operator, __version__
from .errors import (AuthenticationError, ConflictError, ConnectionFailed, GatewayError, IdempotencyConflictError,
                     InvalidRequestError, MethodNotAllowedError, NotFoundError, PayloadTooLargeError,
                     PermissionDeniedError, QuotaExceededError, RateLimitError, ServerError,
                     ServiceUnavailableError, UnsupportedMediaTypeError)
from .transport import Response
from .webhooks import WebhookVerificationError, verify_webhook

__all__ = ["MemoryGateway", "Operator", "Response", "GatewayError", "ConnectionFailed", "InvalidRequestError",
           "AuthenticationError", "PermissionDeniedError", "NotFoundError", "MethodNotAllowedError",
           "ConflictError", "IdempotencyConflictError", "PayloadTooLargeError", "UnsupportedMediaTypeError",
           "RateLimitError", "QuotaExceededError", "ServerError", "ServiceUnavailableError", "__version__",
           "verify_webhook", "WebhookVerificationError"]
