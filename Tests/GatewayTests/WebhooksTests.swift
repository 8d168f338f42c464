import Auth
import Foundation
import PostgresStore
import Testing
@testable import Gateway

/// Webhooks end to end: a real receiver on loopback, real gateways delivering from the shared
/// test database. Serialized: every gateway delivers every tenant's events, so suites of
/// differently configured deliverers must not overlap.
@Suite(.serialized) struct WebhooksTests {
    static let operatorToken = "webhooks-test-operator-token-0123456789"

    /// A gateway that delivers, to loopback, polling often, with a short retry schedule.
    static func gateway(retrySchedule: [Duration] = [.milliseconds(300), .milliseconds(600)], allowPrivate: Bool = true,
                        lease: Duration = .seconds(3), timeout: Duration = .seconds(2)) throws -> TestGateway {
        try TestGateway { configuration in
            configuration.operatorToken = operatorToken
            configuration.webhooks.isDelivering = true
            configuration.webhooks.allowsPrivateAddresses = allowPrivate
            configuration.webhooks.pollInterval = .milliseconds(50)
            configuration.webhooks.retrySchedule = retrySchedule
            configuration.webhooks.lease = lease
            configuration.webhooks.attemptTimeout = timeout
        }
    }

    /// A tenant with a high rate limit; returns its id and live admin key.
    static func tenant(_ gateway: TestGateway, limits: JSONValue = ["rate_limit_per_minute": 100_000]) throws -> (orgID: String, key: String) {
        let client = gateway.client()
        let created = try client.call("POST", "/v1/admin/tenants", key: operatorToken,
                                      json: ["name": "webhook tenant", "plan": "professional"])
        guard created.status == 201, let orgID = created.data?["tenant"]?["id"]?.stringValue,
              let key = created.data?["api_key"]?["key"]?.stringValue
        else { throw TestClientError.io("tenant creation failed: \(created.status) \(created.text)") }
        let patched = try client.call("PATCH", "/v1/admin/tenants/\(orgID)", key: operatorToken, json: ["limits": limits])
        guard patched.status == 200 else { throw TestClientError.io("limits: \(patched.status) \(patched.text)") }
        return (orgID, key)
    }

    static func subscribe(_ gateway: TestGateway, key: String, url: String, events: [String] = ["*"]) throws -> (id: String, secret: String) {
        let response = try gateway.client().call("POST", "/v1/webhooks", key: key,
                                                 json: ["url": .string(url), "events": .array(events.map { .string($0) })])
        guard response.status == 201, let id = response.data?["id"]?.stringValue,
              let secret = response.data?["secret"]?.stringValue
        else { throw TestClientError.io("webhook creation failed: \(response.status) \(response.text)") }
        return (id, secret)
    }

    static func isValid(_ received: WebhookReceiver.Received, secret: String) -> Bool {
        guard let key = WebhookSignature.key(of: secret), let timestamp = Int64(received.timestamp) else { return false }
        return received.signature == WebhookSignature.sign(key: key, id: received.id, timestamp: timestamp, body: received.body)
    }

    // MARK: signing

    /// The Standard Webhooks specification's published vector.
    @Test func signatureMatchesTheStandardWebhooksTestVector() throws {
        let key = try #require(WebhookSignature.key(of: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"))
        let signature = WebhookSignature.sign(key: key, id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1614265330,
                                              body: Array(#"{"test": 2432232314}"#.utf8))
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        let other = WebhookSignature.sign(key: key, id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1614265331,
                                          body: Array(#"{"test": 2432232314}"#.utf8))
        #expect(other != signature)
    }

    @Test func secretsAreThirtyTwoRandomBytesInBase64() throws {
        let secret = WebhookSignature.makeSecret()
        #expect(secret.hasPrefix("whsec_"))
        #expect(try #require(WebhookSignature.key(of: secret)).count == 32)
        #expect(WebhookSignature.makeSecret() != secret)
        #expect(WebhookSignature.key(of: "whsec_not base64!") == nil)
    }

    // MARK: the address guard

    @Test(arguments: [
        "127.0.0.1", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1", "169.254.169.254", "100.64.0.1",
        "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "fd00:ec2::254", "ff02::1",
        "::ffff:127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a00:1",
    ])
    func addressGuardRefusesInternalAddresses(_ text: String) throws {
        #expect(WebhookAddressGuard.isInternal(try #require(IPAddress(text))))
    }

    @Test(arguments: ["1.1.1.1", "8.8.8.8", "172.32.0.1", "100.128.0.1", "2606:4700:4700::1111", "2a00:1450:4001::1"])
    func addressGuardAllowsPublicAddresses(_ text: String) throws {
        #expect(!WebhookAddressGuard.isInternal(try #require(IPAddress(text))))
    }

    @Test func urlsAreParsedStrictly() {
        guard case .success(let v6) = WebhookTarget.parse("https://[::1]:8443/x") else { Issue.record("IPv6 literal"); return }
        #expect(v6.host == "::1")
        #expect(v6.port == 8443)
        #expect(v6.isAddressLiteral)
        guard case .success(let named) = WebhookTarget.parse("https://Example.COM/hook?a=1") else { Issue.record("named"); return }
        #expect(named.host == "example.com")
        #expect(named.port == 443)
        #expect(!named.isAddressLiteral)
        for bad in ["ftp://example.com/", "example.com/hook", "https://user:pw@example.com/", "https://example.com/#x",
                    "https:///nohost", "https://exa mple.com/", "javascript:alert(1)", "https://example.com:99999/"] {
            if case .success = WebhookTarget.parse(bad) { Issue.record("accepted \(bad)") }
        }
    }

    // MARK: the API

    @Test func aPrivateURLIsRefusedWithoutTheSetting() throws {
        let gateway = try Self.gateway(allowPrivate: false)
        defer { gateway.stop() }
        let tenant = try Self.tenant(gateway)
        let client = gateway.client()
        for url in ["http://127.0.0.1:9/hook", "http://localhost:9/hook", "http://[::1]:9/", "http://10.0.0.1/",
                    "http://169.254.169.254/latest/meta-data/", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0/"] {
            let response = try client.call("POST", "/v1/webhooks", key: tenant.key, json: ["url": .string(url), "events": ["*"]])
            #expect(response.status == 400, "\(url)")
            #expect(response.errorCode == "invalid_request", "\(url)")
        }
        let list = try client.call("GET", "/v1/webhooks", key: tenant.key)
        #expect(list.data?["webhooks"]?.arrayValue?.isEmpty == true)
    }

    @Test func webhooksAreManagedPerTenantAndEnvironment() throws {
        let gateway = try Self.gateway()
        defer { gateway.stop() }
        let tenant = try Self.tenant(gateway)
        let other = try Self.tenant(gateway)
        let client = gateway.client()
        let created = try client.call("POST", "/v1/webhooks", key: tenant.key,
                                      json: ["url": "http://127.0.0.1:9/a", "events": ["memory.created", "memory.created"],
                                             "description": "first"])
        #expect(created.status == 201)
        let id = try #require(created.data?["id"]?.stringValue)
        #expect(created.header("Location") == "/v1/webhooks/\(id)")
        #expect(created.data?["secret"]?.stringValue?.hasPrefix("whsec_") == true)
        #expect(created.data?["events"]?.arrayValue?.count == 1)
        let got = try client.call("GET", "/v1/webhooks/\(id)", key: tenant.key)
        #expect(got.status == 200)
        #expect(got.data?["secret"] == nil)
        #expect(got.data?["description"]?.stringValue == "first")
        #expect(try client.call("GET", "/v1/webhooks/\(id)", key: other.key).status == 404)
        #expect(try client.call("DELETE", "/v1/webhooks/\(id)", key: other.key).status == 404)
        let testKey = try gateway.createKey(admin: tenant.key, scopes: ["admin"], environment: "test")
        #expect(try client.call("GET", "/v1/webhooks/\(id)", key: testKey.key).status == 404)
        #expect(try client.call("GET", "/v1/webhooks", key: testKey.key).data?["webhooks"]?.arrayValue?.isEmpty == true)
        let reader = try gateway.createKey(admin: tenant.key, scopes: ["read", "write"])
        #expect(try client.call("GET", "/v1/webhooks", key: reader.key).status == 403)

        for (body, field) in [(["url": "http://127.0.0.1:9/", "events": ["memory.exploded"]], "events"),
                              (["url": "http://127.0.0.1:9/", "events": []], "events"),
                              (["url": "ftp://127.0.0.1/", "events": ["*"]], "url"),
                              (["events": ["*"]], "url")] as [(JSONValue, String)] {
            let refused = try client.call("POST", "/v1/webhooks", key: tenant.key, json: body)
            #expect(refused.status == 400)
            #expect(refused.json?["error"]?["details"]?.arrayValue?.first?["field"]?.stringValue == field)
        }
        for index in 1..<20 {
            #expect(try client.call("POST", "/v1/webhooks", key: tenant.key,
                                    json: ["url": .string("http://127.0.0.1:9/\(index)"), "events": ["*"]]).status == 201)
        }
        let twentyFirst = try client.call("POST", "/v1/webhooks", key: tenant.key, json: ["url": "http://127.0.0.1:9/x", "events": ["*"]])
        #expect(twentyFirst.status == 409)
        #expect(twentyFirst.errorCode == "conflict")
        // The test environment has its own twenty.
        #expect(try client.call("POST", "/v1/webhooks", key: testKey.key, json: ["url": "http://127.0.0.1:9/t", "events": ["*"]]).status == 201)
        #expect(try client.call("GET", "/v1/webhooks", key: tenant.key).data?["webhooks"]?.arrayValue?.count == 20)
        let deleted = try client.call("DELETE", "/v1/webhooks/\(id)", key: tenant.key)
        #expect(deleted.status == 200)
        #expect(deleted.data?["deleted"]?.boolValue == true)
        #expect(try client.call("GET", "/v1/webhooks/\(id)", key: tenant.key).status == 404)
        #expect(try client.call("GET", "/v1/webhooks/\(id)/deliveries", key: tenant.key).status == 404)
        #expect(try client.call("POST", "/v1/webhooks/\(id)/test", key: tenant.key).status == 404)
        #expect(try client.call("GET", "/v1/webhooks/whk_nope/deliveries?limit=0", key: tenant.key).status == 400)
    }

    // MARK: deliveries

    @Test func everyEventTypeArrivesOnceWithAValidSignature() throws {
        let receiver = try WebhookReceiver()
        defer { receiver.stop() }
        let gateway = try Self.gateway()
        defer { gateway.stop() }
        let tenant = try Self.tenant(gateway, limits: ["rate_limit_per_minute": 100_000, "monthly_request_quota": 30])
        let hook = try Self.subscribe(gateway, key: tenant.key, url: receiver.url)
        let client = gateway.client()
        let key = tenant.key
        #expect(try client.call("POST", "/v1/memories", key: key, json: ["text": "one", "memory_id": "w1"]).status == 201)
        #expect(try client.call("POST", "/v1/memories/batch", key: key,
                                json: ["memories": [["text": "two", "memory_id": "w2"], ["text": "three", "memory_id": "w3"]]]).status == 201)
        #expect(try client.call("POST", "/v1/query/extract", key: key,
                                json: ["content": "The user lives in Lisbon. The user likes tea."]).status == 201)
        #expect(try client.call("PUT", "/v1/memories/w1", key: key, json: ["text": "one, again"]).status == 200)
        #expect(try client.call("DELETE", "/v1/memories/w2", key: key).status == 200)
        #expect(try client.call("DELETE", "/v1/memories?confirm=true&metadata.none=x", key: key).status == 200)  // erases nothing
        #expect(try client.call("DELETE", "/v1/memories?confirm=true", key: key).status == 200)
        let created = try gateway.createKey(admin: key, scopes: ["read"])
        #expect(try client.call("POST", "/v1/account/api-keys/\(created.id)/rotate", key: key, json: ["grace_seconds": 0]).status == 201)
        #expect(try client.call("DELETE", "/v1/account/api-keys/\(created.id)", key: key).status == 200)
        #expect(try client.call("POST", "/v1/webhooks/\(hook.id)/test", key: key).status == 202)
        // 30 requests a month: with these, the requests so far pass 80 % (24) and 100 % (30).
        for _ in 0..<20 { _ = try client.call("GET", "/v1/memories/count", key: key) }

        // A rotation is api_key.rotated (data: the new key, with rotated_from), not also api_key.created.
        let expected: [String: Int] = [
            "memory.created": 5, "memory.updated": 1, "memory.deleted": 1, "memories.erased": 1, "api_key.created": 1,
            "api_key.rotated": 1, "api_key.revoked": 1, "webhook.test": 1, "usage.alert": 2,
        ]
        let arrived = eventually(timeout: .seconds(20)) {
            let counts = Dictionary(grouping: receiver.requests.compactMap(\.type), by: { $0 }).mapValues(\.count)
            return expected.allSatisfy { counts[$0.key, default: 0] >= $0.value }
        }
        let requests = receiver.requests
        #expect(arrived, "got \(requests.compactMap(\.type))")
        #expect(Set(requests.map(\.id)).count == requests.count, "an event arrived twice")
        #expect(requests.count == expected.values.reduce(0, +), "more events than changes")
        for request in requests {
            #expect(Self.isValid(request, secret: hook.secret), "bad signature on \(request.type ?? "?")")
            #expect(request.id.hasPrefix("evt_"))
            #expect(request.json?["timestamp"]?.stringValue != nil)
        }
        let byType = Dictionary(grouping: requests, by: { $0.type ?? "" })
        let createdTexts = Set(byType["memory.created"]?.compactMap { $0.json?["data"]?["text"]?.stringValue } ?? [])
        #expect(createdTexts.isSuperset(of: ["one", "two", "three"]))
        #expect(byType["memory.updated"]?.first?.json?["data"]?["version"]?.intValue == 2)
        #expect(byType["memory.deleted"]?.first?.json?["data"]?["id"]?.stringValue == "w2")
        #expect(byType["memory.deleted"]?.first?.json?["data"]?["reason"]?.stringValue == "api")
        #expect(byType["memories.erased"]?.first?.json?["data"]?["deleted"]?.intValue == 4)  // w1, w3 and the two extracted
        let keyEvents = (byType["api_key.created"] ?? []) + (byType["api_key.rotated"] ?? []) + (byType["api_key.revoked"] ?? [])
        for event in keyEvents {
            #expect(event.json?["data"]?["key_prefix"]?.stringValue != nil)
            #expect(event.json?["data"]?["key"] == nil, "a key event carried the key")
        }
        #expect(byType["api_key.revoked"]?.first?.json?["data"]?["revoked_at"]?.stringValue != nil)
        #expect(byType["webhook.test"]?.first?.json?["data"]?["id"]?.stringValue == hook.id)
        let alerts = (byType["usage.alert"] ?? []).compactMap { $0.json?["data"] }
        #expect(Set(alerts.compactMap { $0["threshold_percent"]?.intValue }) == [80, 100])
        #expect(alerts.allSatisfy { $0["metric"]?.stringValue == "requests" && $0["reached_at"]?.stringValue != nil })

        let history = try client.call("GET", "/v1/webhooks/\(hook.id)/deliveries?limit=5", key: key)
        #expect(history.status == 200)
        let page = try #require(history.data?["deliveries"]?.arrayValue)
        #expect(page.count == 5)
        #expect(page.first?["status"]?.stringValue == "delivered" || page.first?["status"]?.stringValue == "pending")
        let cursor = try #require(history.data?["next_cursor"]?.stringValue)
        let next = try client.call("GET", "/v1/webhooks/\(hook.id)/deliveries?limit=100&cursor=\(cursor)", key: key)
        let rest = try #require(next.data?["deliveries"]?.arrayValue)
        let ids = (page + rest).compactMap { $0["id"]?.stringValue }
        #expect(Set(ids).count == ids.count)
        #expect(ids.count == requests.count || ids.count >= expected.values.reduce(0, +))
        #expect(try client.call("GET", "/v1/webhooks/\(hook.id)/deliveries?cursor=bogus", key: key).status == 400)
    }

    @Test func aRolledBackChangeSendsNothing() throws {
        let receiver = try WebhookReceiver()
        defer { receiver.stop() }
        let gateway = try Self.gateway()
        defer { gateway.stop() }
        let tenant = try Self.tenant(gateway)
        _ = try Self.subscribe(gateway, key: tenant.key, url: receiver.url, events: ["memory.created"])
        let services = gateway.running.services
        struct Abort: Error {}
        var rolledBack: [String] = []
        #expect(throws: Abort.self) {
            try services.pool.transaction { connection in
                _ = try connection.query(
                    "INSERT INTO memories (org_id, env, memory_id, text) VALUES ($1, 'live', 'gone', 'never')",
                    [.text(tenant.orgID)])
                rolledBack = try services.webhooks.record(connection, orgID: tenant.orgID, env: "live",
                                                          type: WebhookEvent.memoryCreated, data: [.object(JSONObject([("id", "gone")]))])
                throw Abort()
            }
        }
        #expect(rolledBack.count == 1)
        // A batch refused whole (one id taken) rolls back the events of the memories it had inserted.
        let client = gateway.client()
        #expect(try client.call("POST", "/v1/memories", key: tenant.key, json: ["text": "taken", "memory_id": "t1"]).status == 201)
        #expect(eventually(timeout: .seconds(10)) { receiver.requests.count == 1 })
        let refused = try client.call("POST", "/v1/memories/batch", key: tenant.key,
                                      json: ["memories": [["text": "new", "memory_id": "n1"], ["text": "dup", "memory_id": "t1"]]])
        #expect(refused.status == 409)
        #expect(try client.call("POST", "/v1/memories", key: tenant.key, json: ["text": "after", "memory_id": "t2"]).status == 201)
        #expect(eventually(timeout: .seconds(10)) { receiver.requests.count >= 2 })
        let texts = receiver.requests.compactMap { $0.json?["data"]?["text"]?.stringValue }
        #expect(texts == ["taken", "after"])
        #expect(!receiver.requests.contains { rolledBack.contains($0.id) })
        let stored = try services.pool.query("SELECT count(*) FROM webhook_events WHERE org_id = $1 AND event_id = ANY ($2::text[])",
                                             [.text(tenant.orgID), .textArray(rolledBack)])
        #expect(stored.first?.int(0) == 0)
    }

    @Test func aFailingReceiverGetsThreeAttemptsAtTheScheduledIntervals() throws {
        let receiver = try WebhookReceiver { index, _ in index < 2 ? 500 : 200 }
        defer { receiver.stop() }
        let gateway = try Self.gateway(retrySchedule: [.milliseconds(400), .milliseconds(800), .seconds(60)])
        defer { gateway.stop() }
        let tenant = try Self.tenant(gateway)
        let hook = try Self.subscribe(gateway, key: tenant.key, url: receiver.url)
        let client = gateway.client()
        #expect(try client.call("POST", "/v1/webhooks/\(hook.id)/test", key: tenant.key).status == 202)
        let deliveries = { try client.call("GET", "/v1/webhooks/\(hook.id)/deliveries", key: tenant.key).data?["deliveries"]?.arrayValue ?? [] }
        #expect(try eventually(timeout: .seconds(10)) { try deliveries().first?["status"]?.stringValue == "delivered" })
        let requests = receiver.requests
        #expect(requests.count == 3)
        #expect(Set(requests.map(\.id)).count == 1, "retries keep the event id")
        if requests.count == 3 {
            let first = requests[1].at - requests[0].at
            let second = requests[2].at - requests[1].at
            // ±10 % jitter, plus the poll interval (50 ms) and scheduling slack.
            #expect(first >= .milliseconds(355) && first <= .milliseconds(700), "first retry after \(first)")
            #expect(second >= .milliseconds(715) && second <= .milliseconds(1200), "second retry after \(second)")
        }
        let delivery = try #require(try deliveries().first)
        #expect(delivery["attempt"]?.intValue == 3)
        #expect(delivery["response_status"]?.intValue == 200)
        #expect(delivery["error"] == .null)
        #expect(requests.allSatisfy { Self.isValid($0, secret: hook.secret) })
    }

    @Test func aDeliveryIsFailedAfterTheLastRetry() throws {
        let receiver = try WebhookReceiver { _, _ in 503 }
        defer { receiver.stop() }
        let gateway = try Self.gateway(retrySchedule: [.milliseconds(100)])
        defer { gateway.stop() }
        let tenant = try Self.tenant(gateway)
        let hook = try Self.subscribe(gateway, key: tenant.key, url: receiver.url)
        let client = gateway.client()
        #expect(try client.call("POST", "/v1/webhooks/\(hook.id)/test", key: tenant.key).status == 202)
        let deliveries = { try client.call("GET", "/v1/webhooks/\(hook.id)/deliveries", key: tenant.key).data?["deliveries"]?.arrayValue ?? [] }
        #expect(try eventually(timeout: .seconds(10)) { try deliveries().first?["status"]?.stringValue == "failed" })
        let delivery = try #require(try deliveries().first)
        #expect(delivery["attempt"]?.intValue == 2)
        #expect(delivery["response_status"]?.intValue == 503)
        #expect(delivery["error"]?.stringValue == "HTTP 503")
        #expect(receiver.requests.count == 2)
    }

    @Test func twoInstancesNeverDeliverTheSameAttempt() throws {
        let receiver = try WebhookReceiver(delay: 0.01)
        defer { receiver.stop() }
        let first = try Self.gateway()
        defer { first.stop() }
        let second = try Self.gateway()
        defer { second.stop() }
        let tenant = try Self.tenant(first)
        _ = try Self.subscribe(first, key: tenant.key, url: receiver.url, events: ["memory.created"])
        _ = try Self.subscribe(first, key: tenant.key, url: receiver.url + "/b", events: ["memory.created"])
        let items: [JSONValue] = (0..<40).map { .object(JSONObject([("text", .string("m\($0)")), ("memory_id", .string("m\($0)"))])) }
        for chunk in stride(from: 0, to: 40, by: 10) {
            let gateway = chunk % 20 == 0 ? first : second
            #expect(try gateway.client().call("POST", "/v1/memories/batch", key: tenant.key,
                                              json: ["memories": .array(Array(items[chunk..<(chunk + 10)]))]).status == 201)
        }
        #expect(eventually(timeout: .seconds(20)) { receiver.requests.count >= 80 })
        let requests = receiver.requests
        #expect(requests.count == 80)
        // Each webhook got each event once, in event order, one at a time.
        #expect(receiver.maxInFlight <= 2)
        let delivered = {
            try first.running.services.pool.query(
                "SELECT count(*), max(attempt), min(attempt) FROM webhook_deliveries WHERE org_id = $1 AND status = 'delivered'",
                [.text(tenant.orgID)])
        }
        // The receiver answered before the deliverer recorded it: wait for the last results.
        #expect(try eventually { try delivered().first?.int(0) == 80 })
        let rows = try delivered()
        #expect(rows.first?.int(0) == 80)
        #expect(rows.first?.int(1) == 1)
        #expect(rows.first?.int(2) == 1)
        let texts = requests.compactMap { $0.json?["data"]?["text"]?.stringValue }
        #expect(Set(texts).count == 40)
        var perText: [String: Int] = [:]
        for text in texts { perText[text, default: 0] += 1 }
        #expect(perText.values.allSatisfy { $0 == 2 })
    }

    /// A webhook released by one instance (its delivery recorded) and leased at once by the other
    /// must not be delivered again: the claim reads the deliveries only after its lease is taken.
    /// Events one at a time on one webhook, both instances claiming, make that hand-over frequent.
    @Test func anEventHandedOverBetweenInstancesIsDeliveredOnce() throws {
        let receiver = try WebhookReceiver()
        defer { receiver.stop() }
        let first = try Self.gateway()
        defer { first.stop() }
        let second = try Self.gateway()
        defer { second.stop() }
        let tenant = try Self.tenant(first)
        let hook = try Self.subscribe(first, key: tenant.key, url: receiver.url, events: ["webhook.test"])
        let count = 60
        for index in 0..<count {
            let gateway = index % 2 == 0 ? first : second
            #expect(try gateway.client().call("POST", "/v1/webhooks/\(hook.id)/test", key: tenant.key).status == 202)
        }
        #expect(eventually(timeout: .seconds(30)) { receiver.requests.count >= count })
        // Anything delivered twice would arrive meanwhile.
        Thread.sleep(forTimeInterval: 1)
        let ids = receiver.requests.map(\.id)
        #expect(ids.count == count)
        #expect(Set(ids).count == count)
    }

    @Test func aKilledInstanceLosesNoEvent() throws {
        let receiver = try WebhookReceiver { index, _ in index == 0 ? nil : 200 }
        defer { receiver.stop() }
        let port = GatewayProcess.freePort()
        let child = try GatewayProcess.serve(environment: [
            "DATABASE_URL": TestGateway.databaseURL, "PORT": String(port), "HOST": "127.0.0.1",
            "GATEWAY_OPERATOR_TOKEN": Self.operatorToken, "ACCESS_LOG": "false", "WEBHOOK_DELIVERY": "on",
            "WEBHOOK_ALLOW_PRIVATE": "true", "WEBHOOK_LEASE_MS": "3000", "WEBHOOK_TIMEOUT_MS": "2000", "WEBHOOK_POLL_MS": "50",
        ])
        defer { if child.isRunning { kill(child.processIdentifier, SIGKILL) } }
        let client = TestHTTPClient(port: port)
        #expect(eventually(timeout: .seconds(30)) { (try? client.call("GET", "/readyz").status) == 200 })
        let created = try client.call("POST", "/v1/admin/tenants", key: Self.operatorToken, json: ["name": "killed", "plan": "professional"])
        let key = try #require(created.data?["api_key"]?["key"]?.stringValue)
        let hook = try client.call("POST", "/v1/webhooks", key: key, json: ["url": .string(receiver.url), "events": ["memory.created"]])
        #expect(hook.status == 201)
        #expect(try client.call("POST", "/v1/memories", key: key, json: ["text": "survives", "memory_id": "k1"]).status == 201)
        // The child is delivering (the receiver holds the request): kill it mid-delivery.
        #expect(eventually(timeout: .seconds(10)) { receiver.requests.count == 1 })
        kill(child.processIdentifier, SIGKILL)
        child.waitUntilExit()
        let survivor = try Self.gateway()
        defer { survivor.stop() }
        #expect(eventually(timeout: .seconds(15)) { receiver.requests.count >= 2 })
        let requests = receiver.requests
        #expect(requests.count == 2)
        #expect(requests.count == 2 && requests[0].id == requests[1].id, "the same event, made again")
        #expect(requests.last?.json?["data"]?["text"]?.stringValue == "survives")
        let webhookID = try #require(hook.data?["id"]?.stringValue)
        let deliveries = try survivor.client().call("GET", "/v1/webhooks/\(webhookID)/deliveries", key: key)
        #expect(try eventually { try survivor.client().call("GET", "/v1/webhooks/\(webhookID)/deliveries", key: key)
                    .data?["deliveries"]?.arrayValue?.first?["status"]?.stringValue == "delivered" })
        _ = deliveries
    }
}
