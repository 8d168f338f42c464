"""``AsyncMemoryGateway`` against a live gateway: the same methods as coroutines, concurrent calls,
async iteration, the same errors. Needs ``MG_URL`` and ``MG_OPERATOR_TOKEN``."""

import asyncio
import os
import unittest
import uuid

from memory_gateway import AsyncMemoryGateway, NotFoundError, Operator, PermissionDeniedError

URL = os.environ.get("MG_URL", "http://localhost:8080")
TOKEN = os.environ.get("MG_OPERATOR_TOKEN")


@unittest.skipUnless(TOKEN, "MG_OPERATOR_TOKEN is not set")
class AsyncClientTests(unittest.TestCase):
    def setUp(self):
        operator = Operator(TOKEN, base_url=URL)
        created = operator.tenants.create(f"async-{uuid.uuid4().hex[:8]}", plan="professional")
        operator.tenants.update(created["tenant"]["id"], limits={"rate_limit_per_minute": 100000})
        self.key = created["api_key"]["key"]

    def test_the_same_methods_as_coroutines(self):
        async def scenario():
            async with AsyncMemoryGateway(self.key, base_url=URL) as client:
                created = await asyncio.gather(*[client.memories.create(text=f"User likes topic {n}",
                                                                        metadata={"n": n}) for n in range(10)])
                self.assertEqual(len({memory["id"] for memory in created}), 10)
                self.assertTrue(created[0].meta.request_id.startswith("req_"))
                self.assertEqual(await client.memories.count(), 10)
                first = created[0]["id"]
                updated = await client.memories.update(first, text="User likes chess")
                self.assertEqual(updated["version"], 2)
                self.assertEqual((await client.memories.get(first))["text"], "User likes chess")
                found = await client.query(context="chess", relevance_threshold=0.1)
                self.assertEqual(found["memories"][0]["id"], first)
                extracted = await client.extract(content="User lives in Porto.")
                self.assertEqual(extracted["memories_created"], 1)
                seen = [memory["id"] async for memory in client.memories.iterate(per_page=3)]
                self.assertEqual(len(seen), 11)
                exported = [memory["id"] async for memory in client.memories.export()]
                self.assertEqual(sorted(exported), sorted(seen))
                self.assertEqual((await client.account())["plan"]["name"], "professional")
                self.assertIn("requests", await client.usage())
                space = await client.spaces.create("Prefs", id="prefs")
                self.assertEqual(space["id"], "prefs")
                reader = await client.api_keys.create("reader", ["read"])
                await client.memories.delete(first)
                with self.assertRaises(NotFoundError):
                    await client.memories.get(first)
            async with AsyncMemoryGateway(reader["key"], base_url=URL) as limited:
                with self.assertRaises(PermissionDeniedError):
                    await limited.memories.create(text="nope")

        asyncio.run(asyncio.wait_for(scenario(), timeout=60))


if __name__ == "__main__":
    unittest.main()
