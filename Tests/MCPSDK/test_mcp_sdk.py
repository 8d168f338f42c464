"""The official MCP Python SDK (PyPI `mcp`) as the client of POST /mcp, over real HTTP against two
gateway instances on one PostgreSQL. Run by scripts/mcp-test, which starts the instances and sets
MG_URL_A, MG_URL_B and MG_OPERATOR_TOKEN.

Covers: initialize (version negotiation, no session), tools/list per scope, every tool called
(alternating instances: nothing lives on an instance), a refused call (scope, rate limit) as an
isError result, a bad key as HTTP 401 with WWW-Authenticate, and usage counted as `MCP <tool>`.
"""

import asyncio
import json
import os
import time
import unittest
import urllib.request

import httpx
from mcp import ClientSession
from mcp.client.streamable_http import streamablehttp_client
from mcp.types import LATEST_PROTOCOL_VERSION

URL_A = os.environ["MG_URL_A"]
URL_B = os.environ["MG_URL_B"]
OPERATOR = os.environ["MG_OPERATOR_TOKEN"]
ALL_TOOLS = ["memory_search", "memory_get", "memory_list", "memory_store", "memory_update",
             "memory_extract", "memory_delete"]


def rest(method, url, path, token, body=None):
    request = urllib.request.Request(
        url + path, method=method, data=None if body is None else json.dumps(body).encode(),
        headers={"Authorization": "Bearer " + token, "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)["data"]


def new_tenant():
    """A professional tenant with a limit no test reaches; returns (org id, admin key)."""
    created = rest("POST", URL_A, "/v1/admin/tenants", OPERATOR, {"name": "mcp sdk", "plan": "professional"})
    org = created["tenant"]["id"]
    rest("PATCH", URL_A, "/v1/admin/tenants/" + org, OPERATOR, {"limits": {"rate_limit_per_minute": 100000}})
    return org, created["api_key"]["key"]


def new_key(admin, scopes, **extra):
    return rest("POST", URL_A, "/v1/account/api-keys", admin, {"name": "mcp", "scopes": scopes, **extra})["key"]


async def with_session(url, key, work):
    async with streamablehttp_client(url + "/mcp", headers={"Authorization": "Bearer " + key}) as (read, write, sid):
        async with ClientSession(read, write) as session:
            initialized = await session.initialize()
            return await work(session, initialized, sid)


def run(coroutine):
    return asyncio.run(asyncio.wait_for(coroutine, timeout=60))


class MCPSDKTests(unittest.TestCase):
    def test_initialize_negotiates_the_latest_version_without_a_session(self):
        _, admin = new_tenant()

        async def work(session, initialized, session_id):
            return initialized, session_id()

        initialized, session_id = run(with_session(URL_A, admin, work))
        self.assertEqual(initialized.protocolVersion, LATEST_PROTOCOL_VERSION)
        self.assertEqual(initialized.protocolVersion, "2025-06-18")
        self.assertEqual(initialized.serverInfo.name, "memory-gateway")
        self.assertIsNotNone(initialized.capabilities.tools)
        self.assertIsNone(session_id, "a stateless server issues no Mcp-Session-Id")

    def test_tools_list_shows_only_the_tools_the_scopes_allow(self):
        _, admin = new_tenant()
        cases = [
            (["read"], ["memory_search", "memory_get", "memory_list"]),
            (["write"], ["memory_store", "memory_update", "memory_extract"]),
            (["delete"], ["memory_delete"]),
            (["read", "write", "delete"], ALL_TOOLS),
        ]
        for scopes, expected in cases:
            key = new_key(admin, scopes)

            async def work(session, initialized, session_id):
                return (await session.list_tools()).tools

            tools = run(with_session(URL_B, key, work))
            self.assertEqual([tool.name for tool in tools], expected, scopes)
            for tool in tools:
                self.assertEqual(tool.inputSchema["type"], "object")
                self.assertTrue(tool.description)

    def test_every_tool_is_callable_on_either_instance_and_counted(self):
        _, admin = new_tenant()

        async def on_a(session, initialized, session_id):
            stored = await session.call_tool("memory_store", {
                "text": "User prefers Python for data work", "metadata": {"topic": "language"}, "space_id": "prefs"})
            self.assertFalse(stored.isError, stored.content)
            self.assertEqual(json.loads(stored.content[0].text), stored.structuredContent)
            return stored.structuredContent["id"]

        memory_id = run(with_session(URL_A, admin, on_a))

        async def on_b(session, initialized, session_id):
            got = await session.call_tool("memory_get", {"id": memory_id})
            self.assertFalse(got.isError, got.content)
            self.assertEqual(got.structuredContent["text"], "User prefers Python for data work")
            self.assertEqual(got.structuredContent, rest("GET", URL_A, "/v1/memories/" + memory_id, admin))
            listed = await session.call_tool("memory_list", {"space_id": "prefs"})
            self.assertEqual([m["id"] for m in listed.structuredContent["memories"]], [memory_id])
            found = await session.call_tool("memory_search", {"query": "python data work", "relevance_threshold": 0.1})
            self.assertEqual(found.structuredContent["memories"][0]["id"], memory_id)
            updated = await session.call_tool("memory_update", {"id": memory_id, "text": "User prefers Rust now"})
            self.assertEqual(updated.structuredContent["version"], 2)
            extracted = await session.call_tool("memory_extract", {"content": "User lives in Lisbon. User has a cat."})
            self.assertEqual(extracted.structuredContent["memories_created"], 2)
            deleted = await session.call_tool("memory_delete", {"id": memory_id})
            self.assertEqual(deleted.structuredContent, {"id": memory_id, "deleted": True})
            gone = await session.call_tool("memory_get", {"id": memory_id})
            self.assertTrue(gone.isError)
            self.assertTrue(gone.content[0].text.startswith("not_found:"), gone.content[0].text)

        run(with_session(URL_B, admin, on_b))
        deadline = time.monotonic() + 5
        expected = {"MCP " + name: (2 if name == "memory_get" else 1) for name in ALL_TOOLS}
        while True:
            by_endpoint = rest("GET", URL_A, "/v1/usage", admin)["by_endpoint"]
            counted = {name: by_endpoint.get(name) for name in expected}
            if counted == expected or time.monotonic() > deadline:
                break
            time.sleep(0.1)
        self.assertEqual(counted, expected)

    def test_a_call_the_scopes_do_not_allow_is_an_error_result(self):
        _, admin = new_tenant()
        reader = new_key(admin, ["read"])

        async def work(session, initialized, session_id):
            return await session.call_tool("memory_store", {"text": "sneaky"})

        result = run(with_session(URL_A, reader, work))
        self.assertTrue(result.isError)
        self.assertTrue(result.content[0].text.startswith("insufficient_scope:"), result.content[0].text)
        self.assertIn("write", result.content[0].text)
        self.assertEqual(rest("GET", URL_A, "/v1/memories/count", admin)["count"], 0)

    def test_a_rate_limited_call_is_an_error_result_with_its_retry_time(self):
        _, admin = new_tenant()
        key = new_key(admin, ["read", "write"], rate_limit_per_minute=2)

        async def work(session, initialized, session_id):
            results = [await session.call_tool("memory_store", {"text": f"note {n}"}) for n in range(3)]
            return results

        # initialize and tools/list take no token: the first two calls are admitted, the third is not.
        results = run(with_session(URL_B, key, work))
        self.assertEqual([r.isError for r in results], [False, False, True])
        refused = results[2]
        self.assertTrue(refused.content[0].text.startswith("rate_limit_exceeded:"), refused.content[0].text)
        self.assertGreaterEqual(refused.structuredContent["error"]["retry_after"], 1)
        self.assertEqual(rest("GET", URL_A, "/v1/memories/count", admin)["count"], 2)

    def test_a_bad_key_is_http_401_with_www_authenticate(self):
        bad = "mem_live_" + "x" * 32
        initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize",
                      "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                                 "clientInfo": {"name": "t", "version": "1"}}}
        for headers in ({"Authorization": "Bearer " + bad}, {}):
            response = httpx.post(URL_A + "/mcp", json=initialize, timeout=10,
                                  headers={"Accept": "application/json, text/event-stream", **headers})
            self.assertEqual(response.status_code, 401)
            self.assertTrue(response.headers["WWW-Authenticate"].startswith("Bearer"))

        # The SDK sees the 401 as an HTTP error and the session does not start.
        async def work(session, initialized, session_id):
            return initialized

        with self.assertRaises(BaseException) as raised:
            run(with_session(URL_B, bad, work))
        self.assertIn(401, statuses(raised.exception), repr(raised.exception))


def statuses(error):
    """HTTP statuses of every httpx.HTTPStatusError inside an exception (group)."""
    found = []
    if isinstance(error, httpx.HTTPStatusError):
        found.append(error.response.status_code)
    for inner in getattr(error, "exceptions", ()) or ():
        found += statuses(inner)
    if error.__cause__ is not None:
        found += statuses(error.__cause__)
    if error.__context__ is not None and error.__context__ is not error.__cause__:
        found += statuses(error.__context__)
    return found


if __name__ == "__main__":
    unittest.main()
