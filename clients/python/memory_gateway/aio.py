"""``AsyncMemoryGateway``: the same client for asyncio, on the standard library only.

Every method of :class:`~memory_gateway.MemoryGateway` exists here as a coroutine with the same
arguments and result (``memories.iterate`` and ``memories.export`` as async iterators). Each call
runs the blocking client in a worker thread (``asyncio.to_thread``), so many calls run
concurrently without blocking the event loop::

    from memory_gateway import AsyncMemoryGateway

    async with AsyncMemoryGateway() as client:        # MEMORY_API_KEY / MEMORY_API_URL
        memory = await client.memories.create(text="User prefers Python")
        hits = await client.query(context="which language?")
"""

from __future__ import annotations

import asyncio
import functools
from typing import Any, AsyncIterator, Callable, Iterator, Optional

from .client import MemoryGateway
from .transport import Response

_ITERATORS = {"iterate", "export"}
_DONE = object()


async def _in_thread(function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(function, *args, **kwargs)


async def _iterate(start: Callable[[], Iterator[dict]]) -> AsyncIterator[dict]:
    iterator = await asyncio.to_thread(start)
    while True:
        item = await asyncio.to_thread(next, iterator, _DONE)
        if item is _DONE:
            return
        yield item


class _AsyncNamespace:
    """A namespace of the blocking client (``memories``, ``spaces``, ``api_keys``, …) whose methods
    are coroutines."""

    def __init__(self, sync: Any) -> None:
        self._sync = sync

    def __getattr__(self, name: str) -> Any:
        attribute = getattr(self._sync, name)
        if not callable(attribute) or name.startswith("_"):
            return attribute
        if name in _ITERATORS:
            def iterate(*args: Any, **kwargs: Any) -> AsyncIterator[dict]:
                return _iterate(functools.partial(attribute, *args, **kwargs))
            return iterate

        async def method(*args: Any, **kwargs: Any) -> Any:
            return await _in_thread(attribute, *args, **kwargs)
        return method


class _AsyncMemories(_AsyncNamespace):
    """``client.memories`` as coroutines (the blocking namespace's arguments, see its docs)."""

    async def create(self, text: str, **options: Any) -> Response:
        return await _in_thread(self._sync.create, text, **options)

    async def get(self, memory_id: str, **options: Any) -> Response:
        return await _in_thread(self._sync.get, memory_id, **options)

    async def update(self, memory_id: str, **options: Any) -> Response:
        return await _in_thread(self._sync.update, memory_id, **options)

    async def delete(self, memory_id: str, **options: Any) -> Response:
        return await _in_thread(self._sync.delete, memory_id, **options)

    async def list(self, **options: Any) -> Response:
        return await _in_thread(self._sync.list, **options)

    async def count(self, **options: Any) -> int:
        return await _in_thread(self._sync.count, **options)

    def iterate(self, **options: Any) -> AsyncIterator[dict]:
        return _iterate(functools.partial(self._sync.iterate, **options))

    def export(self, **options: Any) -> AsyncIterator[dict]:
        return _iterate(functools.partial(self._sync.export, **options))


class AsyncMemoryGateway:
    """``MemoryGateway`` for asyncio: the same constructor (``api_key`` else ``MEMORY_API_KEY``,
    ``base_url`` else ``MEMORY_API_URL`` else http://localhost:8080, ``timeout``, ``max_retries``,
    ``max_retry_wait``), the same methods as coroutines, the same errors."""

    def __init__(self, api_key: Optional[str] = None, base_url: Optional[str] = None, timeout: float = 10, *,
                 max_retries: int = 0, max_retry_wait: float = 30) -> None:
        self._sync = MemoryGateway(api_key, base_url, timeout, max_retries=max_retries,
                                   max_retry_wait=max_retry_wait)
        self.memories = _AsyncMemories(self._sync.memories)

    async def __aenter__(self) -> "AsyncMemoryGateway":
        return self

    async def __aexit__(self, *exc: Any) -> None:
        return None

    @property
    def sync(self) -> MemoryGateway:
        """The blocking client underneath."""
        return self._sync

    @property
    def last_request_id(self) -> Optional[str]:
        return self._sync.last_request_id

    @property
    def last_response(self) -> Optional[Response]:
        return self._sync.last_response

    async def query(self, context: str, **options: Any) -> Response:
        return await _in_thread(self._sync.query, context, **options)

    async def extract(self, content: str, **options: Any) -> Response:
        return await _in_thread(self._sync.extract, content, **options)

    async def request(self, method: str, path: str, **options: Any) -> Any:
        return await _in_thread(self._sync.request, method, path, **options)

    def __getattr__(self, name: str) -> Any:
        # Everything else the blocking client has (usage, account, spaces, api_keys, …), as coroutines.
        if name.startswith("_"):
            raise AttributeError(name)
        attribute = getattr(self._sync, name)
        if callable(attribute):
            async def method(*args: Any, **kwargs: Any) -> Any:
                return await _in_thread(attribute, *args, **kwargs)
            return method
        return _AsyncNamespace(attribute)
