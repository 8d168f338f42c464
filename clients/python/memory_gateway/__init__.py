"""A small, stdlib-only client for the Memory Gateway v1 API.

    from memory_gateway import MemoryGateway
    client = MemoryGateway()    # MEMORY_API_KEY, and MEMORY_API_URL (default http://localhost:8080)
    client.memories.create(text="User prefers Python", metadata={"topic": "language"})
    client.query(context="which language does the user prefer?")
"""

from .aio import AsyncMemoryGateway
from .client import MemoryGateway, Operator, __version__
from .errors import (AuthenticationError, ConflictError, ConnectionFailed, GatewayError, IdempotencyConflictError,
                     InvalidRequestError, MethodNotAllowedError, NotFoundError, PayloadTooLargeError,
                     PermissionDeniedError, QuotaExceededError, RateLimitError, ServerError,
                     ServiceUnavailableError, UnsupportedMediaTypeError)
from .transport import Meta, Response
from .webhooks import WebhookVerificationError, verify_webhook

__all__ = ["MemoryGateway", "AsyncMemoryGateway", "Operator", "Response", "Meta", "GatewayError", "ConnectionFailed", "InvalidRequestError",
           "AuthenticationError", "PermissionDeniedError", "NotFoundError", "MethodNotAllowedError",
           "ConflictError", "IdempotencyConflictError", "PayloadTooLargeError", "UnsupportedMediaTypeError",
           "RateLimitError", "QuotaExceededError", "ServerError", "ServiceUnavailableError", "__version__",
           "verify_webhook", "WebhookVerificationError"]
