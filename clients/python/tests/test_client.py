"""The Python client against a live gateway.

Needs ``MG_URL`` and ``MG_OPERATOR_TOKEN`` (``scripts/docs-test`` sets both); each test creates its
own tenant through the operator API, so tests do not share rate limits or data. Run with
``PYTHONPATH=clients/python python3 -m unittest discover -s clients/python/tests``.
"""

import os
import time
import unittest
import uuid

from memory_gateway import (AuthenticationError, IdempotencyConflictError, InvalidRequestError, MemoryGateway,
                            NotFoundError, Operator, PermissionDeniedError, QuotaExceededError, RateLimitError)

URL = os.environ.get("MG_URL", "http://localhost:8080")
TOKEN = os.environ.get("MG_OPERATOR_TOKEN")


@unittest.skipUnless(TOKEN, "MG_OPERATOR_TOKEN is not set")
class ClientTests(unittest.TestCase):
    def setUp(self):
        self.operator = Operator(TOKEN, base_url=URL)
        created = self.operator.tenants.create(f"client-test-{uuid.uuid4().hex[:8]}", plan="professional")
        self.tenant = created["tenant"]
        self.admin = MemoryGateway(created["api_key"]["key"], base_url=URL)

    def test_memory_lifecycle_versions_and_request_ids(self):
        memory = self.admin.memories.create(text="User prefers tea", metadata={"topic": "drinks"})
        self.assertEqual(memory.status, 201)
        self.assertTrue(memory.request_id.startswith("req_"))
        self.assertEqual(self.admin.last_request_id, memory.request_id)
        updated = self.admin.memories.update(memory["id"], text="User prefers green tea")
        self.assertEqual(updated["version"], 2)
        old = self.admin.memories.get(memory["id"], as_of=memory["created_at"])
        self.assertEqual(old["text"], "User prefers tea")
        history = self.admin.memories.history(memory["id"])
        self.assertEqual([v["version"] for v in history], [2, 1])
        self.assertEqual(self.admin.memories.count(metadata={"topic": "drinks"}), 1)
        found = self.admin.query(context="green tea")
        self.assertEqual(found["memories"][0]["id"], memory["id"])
        self.assertEqual(self.admin.memories.delete(memory["id"]), {"id": memory["id"], "deleted": True})
        with self.assertRaises(NotFoundError) as caught:
            self.admin.memories.get(memory["id"])
        self.assertEqual(caught.exception.status, 404)
        self.assertEqual(caught.exception.code, "not_found")
        self.assertEqual(caught.exception.request_id, self.admin.last_request_id)

    def test_expiry_and_filter_operators(self):
        memory = self.admin.memories.create(text="User is travelling until Friday", ttl_seconds=3600,
                                            metadata={"confidence": 0.95})
        self.assertIsNotNone(memory["expires_at"])
        self.assertIsNone(self.admin.memories.update(memory["id"], expires_at=None)["expires_at"])
        dated = self.admin.memories.update(memory["id"], expires_at="2999-01-01T00:00:00+01:00")
        self.assertEqual(dated["expires_at"], "2998-12-31T23:00:00.000Z")
        self.admin.memories.create(text="User maybe likes jazz", metadata={"confidence": 0.4})
        self.assertEqual(self.admin.memories.count(metadata={"confidence[gte]": 0.9}), 1)
        found = self.admin.query(context="user", relevance_threshold=0.1, filters={"confidence": {"$lt": 0.5}})
        self.assertEqual([m["text"] for m in found["memories"]], ["User maybe likes jazz"])
        with self.assertRaises(InvalidRequestError):
            self.admin.memories.create(text="both", ttl_seconds=60, expires_at="2999-01-01T00:00:00Z")

    def test_batch_list_iterate_export_erase(self):
        items = [{"text": f"fact number {i}", "memory_id": f"fact-{i}", "space_id": "facts"} for i in range(7)]
        result = self.admin.memories.batch(items)
        self.assertEqual(result["created"], 7)
        again = self.admin.memories.batch(items, on_conflict="skip")
        self.assertEqual(again["skipped"], 7)
        self.assertEqual(len(list(self.admin.memories.iterate(per_page=3, space_id="facts"))), 7)
        exported = list(self.admin.memories.export(include_history=True, space_id="facts"))
        self.assertEqual(len(exported), 7)
        self.assertIn("versions", exported[0])
        self.assertEqual(self.admin.spaces.get("facts")["memory_count"], 7)
        with self.assertRaises(ValueError):
            self.admin.memories.erase()
        self.assertEqual(self.admin.memories.erase(space_id="facts"), 7)

    def test_validation_errors_carry_details(self):
        with self.assertRaises(InvalidRequestError) as caught:
            self.admin.memories.create(text="")
        self.assertEqual(caught.exception.details[0]["field"], "text")
        with self.assertRaises(AuthenticationError) as caught:
            MemoryGateway("mem_live_" + "x" * 40, base_url=URL).account()
        self.assertEqual(caught.exception.code, "invalid_api_key")

    def test_scoped_keys_rotation_revocation_audit(self):
        reader = self.admin.api_keys.create("reader", ["read"])
        client = MemoryGateway(reader["key"], base_url=URL)
        self.assertEqual(client.account()["id"], self.tenant["id"])
        with self.assertRaises(PermissionDeniedError) as caught:
            client.memories.create(text="not allowed")
        self.assertEqual(caught.exception.code, "insufficient_scope")
        rotated = self.admin.api_keys.rotate(reader["id"], grace_seconds=0)
        self.assertEqual(rotated["rotated_from"]["id"], reader["id"])
        revoked = self.admin.api_keys.revoke(rotated["id"])
        self.assertIsNotNone(revoked["revoked_at"])
        actions = [event["action"] for event in self.admin.audit_log()["events"]]
        self.assertEqual(actions[:3], ["api_key.revoked", "api_key.rotated", "api_key.created"])

    def test_idempotent_writes_replay(self):
        key = str(uuid.uuid4())
        first = self.admin.memories.create(text="Meeting moved to Friday", idempotency_key=key)
        second = self.admin.memories.create(text="Meeting moved to Friday", idempotency_key=key)
        self.assertEqual(first["id"], second["id"])
        self.assertFalse(first.replayed)
        self.assertTrue(second.replayed)
        with self.assertRaises(IdempotencyConflictError):
            self.admin.memories.create(text="another body", idempotency_key=key)
        generated = self.admin.memories.create(text="auto key", idempotent=True)
        self.assertFalse(generated.replayed)

    def test_rate_limit_error_and_automatic_retry(self):
        # 12 per minute: a burst of 12, then one every 5 s, so even a slow, loaded machine spends
        # the burst before the bucket refills (at 60 per minute 61 calls had to fit in 1 s).
        limited = self.admin.api_keys.create("limited", ["read"], rate_limit_per_minute=12)
        client = MemoryGateway(limited["key"], base_url=URL)
        with self.assertRaises(RateLimitError) as caught:
            for _ in range(200):  # a slow, loaded machine refills a token or two meanwhile
                client.account()
        self.assertEqual(caught.exception.code, "rate_limit_exceeded")
        self.assertGreaterEqual(caught.exception.retry_after, 1)
        patient = MemoryGateway(limited["key"], base_url=URL, max_retries=3, max_retry_wait=10)
        started = time.monotonic()
        self.assertEqual(patient.account()["id"], self.tenant["id"])
        self.assertGreaterEqual(time.monotonic() - started, 0.9)

    def test_memory_quota_has_no_retry_after(self):
        created = self.operator.tenants.create("quota-test", plan="free")
        self.operator.tenants.update(created["tenant"]["id"], limits={"max_memories": 1})
        client = MemoryGateway(created["api_key"]["key"], base_url=URL, max_retries=3)
        client.memories.create(text="the only one")
        with self.assertRaises(QuotaExceededError) as caught:
            client.memories.create(text="one too many")
        self.assertEqual(caught.exception.status, 429)
        self.assertIsNone(caught.exception.retry_after)

    def test_operator_billing_and_suspension(self):
        period = time.strftime("%Y-%m", time.gmtime())
        rows = self.operator.billing(period)["tenants"]
        self.assertIn(self.tenant["id"], [row["tenant_id"] for row in rows])
        self.assertTrue(self.operator.billing(period, format="csv").startswith("tenant_id,"))
        self.operator.tenants.update(self.tenant["id"], suspended=True)
        time.sleep(1.2)
        with self.assertRaises(PermissionDeniedError) as caught:
            self.admin.account()
        self.assertEqual(caught.exception.code, "tenant_suspended")


if __name__ == "__main__":
    unittest.main()
