"""``client.webhooks`` and ``verify_webhook``: the Standard Webhooks vector, and a real delivery from a
live gateway (``MG_URL``, ``MG_OPERATOR_TOKEN``; the gateway must allow loopback webhooks) to a
receiver on loopback."""

import http.server
import os
import queue
import threading
import unittest
import uuid

from memory_gateway import MemoryGateway, Operator, WebhookVerificationError, verify_webhook

URL = os.environ.get("MG_URL", "http://localhost:8080")
TOKEN = os.environ.get("MG_OPERATOR_TOKEN")

VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_HEADERS = {"webhook-id": "msg_p5jXN8AQM9LWM0D4loKWxJek", "webhook-timestamp": "1614265330",
                  "webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="}
VECTOR_BODY = b'{"test": 2432232314}'


class VerifyTests(unittest.TestCase):
    def test_the_specification_vector_verifies(self):
        self.assertEqual(verify_webhook(VECTOR_SECRET, VECTOR_HEADERS, VECTOR_BODY, now=1614265330),
                         {"test": 2432232314})

    def test_headers_match_in_any_case_and_among_several_signatures(self):
        headers = {name.upper(): value for name, value in VECTOR_HEADERS.items()}
        headers["WEBHOOK-SIGNATURE"] = "v1,bm90IGl0 " + VECTOR_HEADERS["webhook-signature"]
        self.assertEqual(verify_webhook(VECTOR_SECRET, headers, VECTOR_BODY, now=1614265330)["test"], 2432232314)

    def test_a_changed_body_an_old_timestamp_or_a_missing_header_is_refused(self):
        with self.assertRaises(WebhookVerificationError):
            verify_webhook(VECTOR_SECRET, VECTOR_HEADERS, b'{"test": 2432232315}', now=1614265330)
        with self.assertRaises(WebhookVerificationError):
            verify_webhook(VECTOR_SECRET, VECTOR_HEADERS, VECTOR_BODY, now=1614265330 + 301)
        with self.assertRaises(WebhookVerificationError):
            verify_webhook(VECTOR_SECRET, {"webhook-id": "x"}, VECTOR_BODY)


@unittest.skipUnless(TOKEN, "MG_OPERATOR_TOKEN is not set")
class LiveWebhookTests(unittest.TestCase):
    def test_a_test_event_arrives_signed_and_is_listed(self):
        arrived = queue.Queue()

        class Receiver(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                arrived.put((dict(self.headers), body))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        self.addCleanup(server.shutdown)
        created = Operator(TOKEN, base_url=URL).tenants.create(f"hooks-{uuid.uuid4().hex[:8]}", plan="professional")
        client = MemoryGateway(created["api_key"]["key"], base_url=URL)
        hook = client.webhooks.create(url=f"http://127.0.0.1:{server.server_port}/in", events=["memory.deleted"],
                                      description="python client test")
        self.assertEqual(hook.status, 201)
        self.assertTrue(hook["secret"].startswith("whsec_"))
        self.assertEqual([h["id"] for h in client.webhooks.list()], [hook["id"]])
        self.assertNotIn("secret", client.webhooks.get(hook["id"]))
        queued = client.webhooks.test(hook["id"])
        headers, body = arrived.get(timeout=30)
        event = verify_webhook(hook["secret"], headers, body)
        self.assertEqual(event["type"], "webhook.test")
        self.assertEqual(headers["webhook-id"], queued["event_id"])
        with self.assertRaises(WebhookVerificationError):
            verify_webhook("whsec_" + "A" * 44, headers, body)
        deliveries = client.webhooks.deliveries(hook["id"])
        self.assertEqual(deliveries["deliveries"][0]["event_id"], queued["event_id"])
        self.assertEqual(client.webhooks.delete(hook["id"])["deleted"], True)
        self.assertEqual(client.webhooks.list(), [])
