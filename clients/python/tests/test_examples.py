"""The published best-practice examples (issue 16), run VERBATIM against a live gateway, and the
client's defaults: key from MEMORY_API_KEY, URL from MEMORY_API_URL (default http://localhost:8080),
``response.meta.request_id`` beside ``response["…"]``.

Needs ``MG_URL`` and ``MG_OPERATOR_TOKEN`` (``scripts/docs-test`` sets both).
"""

import logging
import os
import time
import unittest
import uuid
from unittest import mock

from memory_gateway import MemoryGateway, Operator, RateLimitError

URL = os.environ.get("MG_URL", "http://localhost:8080")
TOKEN = os.environ.get("MG_OPERATOR_TOKEN")
logger = logging.getLogger("memory_gateway.examples")


@unittest.skipUnless(TOKEN, "MG_OPERATOR_TOKEN is not set")
class IssueExamplesTests(unittest.TestCase):
    def setUp(self):
        operator = Operator(TOKEN, base_url=URL)
        created = operator.tenants.create(f"examples-{uuid.uuid4().hex[:8]}", plan="professional")
        operator.tenants.update(created["tenant"]["id"], limits={"rate_limit_per_minute": 100000})
        self.admin_key = created["api_key"]["key"]
        environment = mock.patch.dict(os.environ, {"MEMORY_API_KEY": self.admin_key, "MEMORY_API_URL": URL})
        environment.start()
        self.addCleanup(environment.stop)

    def test_the_best_practice_examples_run_as_written(self):
        with self.assertLogs(logger, level="INFO") as logs:
            # --- verbatim from the Best Practices page ---
            client = MemoryGateway()

            response = client.memories.create(text="...")
            logger.info(f"Created memory, request_id: {response.meta.request_id}")
            # ---
        self.assertTrue(response.meta.request_id.startswith("req_"))
        self.assertEqual(logs.records[0].getMessage(), f"Created memory, request_id: {response.meta.request_id}")
        self.assertEqual(response.meta.request_id, response.request_id)
        self.assertEqual(response.meta["request_id"], response.meta.request_id)
        self.assertEqual(response["text"], "...")
        self.assertIsInstance(response.meta.processing_time_ms, int)

        texts = ["User works at Google.", "User prefers Python for data work."]
        user_id = "alice"
        memory_id = response["id"]
        # --- verbatim ---
        client.extract(content="\n".join(texts))
        client.query(context=f"preferences for {user_id}")
        client.memories.update(memory_id, text="User now works at Meta")
        # ---
        self.assertEqual(client.memories.count(source="extraction"), 2)
        self.assertEqual(client.memories.get(memory_id)["text"], "User now works at Meta")

    def test_the_rate_limit_example_sleeps_exactly_long_enough(self):
        admin = MemoryGateway()
        limited = admin.api_keys.create("limited", ["read"], rate_limit_per_minute=20)["key"]
        os.environ["MEMORY_API_KEY"] = limited
        client = MemoryGateway()
        # Empty the bucket (a burst of 20), so the example's first query is refused.
        for _ in range(40):
            try:
                client.query(context="...")
            except RateLimitError:
                break
        else:
            self.fail("the limit of 20 per minute never refused")
        started = time.monotonic()
        # --- verbatim ---
        try:
            result = client.query(context="...")
        except RateLimitError as e:
            time.sleep(e.retry_after)
            result = client.query(context="...")
        # ---
        self.assertGreaterEqual(time.monotonic() - started, 0.9, "the first query was not refused")
        self.assertEqual(result["memories"], [])

    def test_the_key_and_url_come_from_the_environment(self):
        client = MemoryGateway()
        self.assertEqual(client.account()["plan"]["name"], "professional")
        with mock.patch.dict(os.environ, {"MEMORY_API_URL": ""}):
            self.assertEqual(MemoryGateway()._t.base_url, "http://localhost:8080")
        del os.environ["MEMORY_API_URL"]
        self.assertEqual(MemoryGateway()._t.base_url, "http://localhost:8080")
        self.assertEqual(MemoryGateway("mem_live_x", base_url="http://example:9").\
                         _t.base_url, "http://example:9")
        del os.environ["MEMORY_API_KEY"]
        with self.assertRaisesRegex(ValueError, "MEMORY_API_KEY"):
            MemoryGateway()


if __name__ == "__main__":
    unittest.main()
