import Foundation
import PostgresStore
import Testing
@testable import Gateway

/// A gateway whose sweeper runs every 200 ms, so a test sees expired rows deleted quickly.
enum ExpiryTestGateway {
    static let shared: TestGateway = {
        do {
            return try TestGateway { $0.expirySweep.interval = .milliseconds(200) }
        } catch {
            fatalError("cannot start the expiry test gateway: \(error)")
        }
    }()
}

/// Expiry (`expires_at` / `ttl_seconds`): from its instant a memory is gone for every read, as if
/// deleted, without waiting for the sweeper; the sweeper then deletes it and its history.
@Suite struct MemoryExpiryTests {
    /// Rows of the memory `id` of `orgID` in memories and in memory_versions.
    static func storedRows(_ pool: PostgresPool, orgID: String, id: String) throws -> (current: Int64, versions: Int64) {
        let rows = try pool.query(
            """
            SELECT (SELECT count(*) FROM memories WHERE org_id = $1 AND memory_id = $2),
                   (SELECT count(*) FROM memory_versions WHERE org_id = $1 AND memory_id = $2)
            """, [.text(orgID), .text(id)])
        return (rows.first?.int(0) ?? -1, rows.first?.int(1) ?? -1)
    }

    /// Makes the memory `id` of `orgID` expired a second ago, straight in the database (so a test
    /// need not wait out a TTL).
    static func expire(_ pool: PostgresPool, orgID: String, id: String) throws {
        try pool.query("UPDATE memories SET expires_at = now() - interval '1 second' WHERE org_id = $1 AND memory_id = $2",
                       [.text(orgID), .text(id)])
    }

    @Test func listAndExportShowTheSameExpiresAtAsGet() throws {
        let gateway = ExpiryTestGateway.shared
        let (_, key) = try gateway.createTenant()
        let client = gateway.client()
        let expiring = try client.call("POST", "/v1/memories", key: key, json: ["text": "expires later", "ttl_seconds": 3600])
        let lasting = try client.call("POST", "/v1/memories", key: key, json: ["text": "never expires"])
        let expiringID = try #require(expiring.data?["id"]?.stringValue)
        let lastingID = try #require(lasting.data?["id"]?.stringValue)
        let expiresAt = try #require(expiring.data?["expires_at"]?.stringValue)

        let list = try client.call("GET", "/v1/memories", key: key)
        let memories = try #require(list.data?["memories"]?.arrayValue)
        let shown = Dictionary(uniqueKeysWithValues: memories.compactMap { m in m["id"]?.stringValue.map { ($0, m) } })
        #expect(shown[expiringID]?["expires_at"]?.stringValue == expiresAt)
        #expect(shown[lastingID]?["expires_at"] == .null)

        let export = try client.request("GET", "/v1/memories/export", headers: [("Authorization", "Bearer \(key)")])
        #expect(export.status == 200)
        let exported = export.text.split(separator: "\n").compactMap { try? JSONParser.parse(String($0)) }
        let byID = Dictionary(uniqueKeysWithValues: exported.compactMap { m in m["id"]?.stringValue.map { ($0, m) } })
        #expect(byID[expiringID]?["expires_at"]?.stringValue == expiresAt)
        #expect(byID[lastingID]?["expires_at"] == .null)
    }

    @Test func aMemoryWithATwoSecondTTLIsGoneFromEveryReadAtTwoSecondsAndSweptWithinAMinute() throws {
        let gateway = ExpiryTestGateway.shared
        let (orgID, key) = try gateway.createTenant()
        let client = gateway.client()
        let marker = "ttl\(UInt32.random(in: 0...UInt32.max))"
        let created = try client.call("POST", "/v1/memories", key: key,
                                      json: ["text": "the zeppelin lands at dawn", "metadata": ["run": .string(marker)],
                                             "ttl_seconds": 2])
        #expect(created.status == 201)
        let id = try #require(created.data?["id"]?.stringValue)
        let createdAt = try #require(created.data?["created_at"]?.stringValue)
        let expiresAt = try #require(created.data?["expires_at"]?.stringValue)
        let start = try #require(UTCDate.parseTimestamp(createdAt))
        #expect(UTCDate.parseTimestamp(expiresAt) == start.addingTimeInterval(2))
        // A second version, so there is history to sweep too; the PUT keeps the expiry.
        let updated = try client.call("PUT", "/v1/memories/\(id)", key: key, json: ["text": "the zeppelin lands at dawn today"])
        #expect(updated.status == 200)
        #expect(updated.data?["expires_at"]?.stringValue == expiresAt)

        let list = "/v1/memories?metadata.run=\(marker)"
        let query: JSONValue = ["context": "zeppelin", "relevance_threshold": 0.1]
        func visible() throws -> [String: Bool] {
            [
                "get": try client.call("GET", "/v1/memories/\(id)", key: key).status == 200,
                "list": try client.call("GET", list, key: key).data?["memories"]?.arrayValue?.count == 1,
                "count": try client.call("GET", "/v1/memories/count?metadata.run=\(marker)", key: key).data?["count"] == 1,
                "query": try client.call("POST", "/v1/query", key: key, json: query).data?["memories"]?.arrayValue?.count == 1,
                "export": try client.call("GET", "/v1/memories/export?metadata.run=\(marker)", key: key).text.contains(id),
                "history": try client.call("GET", "/v1/memories/\(id)/history", key: key).status == 200,
                "as_of": try client.call("GET", "/v1/memories/\(id)?as_of=\(createdAt)", key: key).status == 200,
            ]
        }
        let before = try visible()
        #expect(before.values.allSatisfy { $0 }, "before expiry: \(before)")

        // Hold the row (FOR KEY SHARE): the sweeper skips locked rows, so what follows shows the
        // reads themselves leaving the expired memory out, not the sweeper having deleted it.
        try gateway.running.services.pool.withConnection { connection in
            try connection.execute("BEGIN")
            let held = try connection.query(
                "SELECT 1 FROM memories WHERE org_id = $1 AND memory_id = $2 FOR KEY SHARE", [.text(orgID), .text(id)])
            #expect(held.count == 1)
            let gone = try eventually(timeout: .seconds(4)) {
                try client.call("GET", "/v1/memories/\(id)", key: key).status == 404
            }
            #expect(gone)
            #expect(Date() >= start.addingTimeInterval(1.99), "404 only from the expiry on")
            #expect(Date() < start.addingTimeInterval(3.5), "gone at 2 s, not at the sweeper's pace")
            let after = try visible()
            #expect(after.values.allSatisfy { !$0 }, "after expiry: \(after)")
            #expect(try client.call("PUT", "/v1/memories/\(id)", key: key, json: ["text": "x"]).status == 404)
            let stillStored = try connection.query("SELECT count(*) FROM memories WHERE org_id = $1 AND memory_id = $2",
                                                   [.text(orgID), .text(id)])
            #expect(stillStored.first?.int(0) == 1, "the row is still there: the reads decided alone")
            try connection.execute("COMMIT")
        }
        let pool = gateway.running.services.pool
        #expect(try eventually(timeout: .seconds(60)) {
            try Self.storedRows(pool, orgID: orgID, id: id) == (0, 0)
        }, "the memory and its history are deleted within 60 s")
    }

    @Test(arguments: [
        (["text": "x", "ttl_seconds": 0] as JSONValue, "ttl_seconds"),
        (["text": "x", "ttl_seconds": 315_360_001] as JSONValue, "ttl_seconds"),
        (["text": "x", "ttl_seconds": 1.5] as JSONValue, "ttl_seconds"),
        (["text": "x", "ttl_seconds": "60"] as JSONValue, "ttl_seconds"),
        (["text": "x", "expires_at": "2020-01-01T00:00:00Z"] as JSONValue, "expires_at"),
        (["text": "x", "expires_at": "tomorrow"] as JSONValue, "expires_at"),
        (["text": "x", "expires_at": "2999-01-01T00:00:00"] as JSONValue, "expires_at"),
        (["text": "x", "expires_at": "2999-01-01T00:00:00Z", "ttl_seconds": 60] as JSONValue, "expires_at"),
    ])
    func refusesOutOfBoundsExpiry(_ body: JSONValue, _ field: String) throws {
        let tenant = try MemoryTestTenant()
        let response = try tenant.call("POST", "/v1/memories", body)
        #expect(response.status == 400)
        #expect(response.json?["error"]?["code"] == "invalid_request")
        #expect(detailFields(response) == [field])
        let batch = try tenant.call("POST", "/v1/memories/batch", ["memories": [["text": "fine"], body]])
        #expect(batch.status == 400)
        #expect(detailFields(batch) == ["memories[1].\(field)"])
        let id = try #require(try tenant.create(["text": "kept"])["id"]?.stringValue)
        let put = try tenant.call("PUT", "/v1/memories/\(id)", body)
        #expect(put.status == 400)
        #expect(detailFields(put) == [field])
    }

    @Test func acceptsTheBoundsAndShowsAnyOffsetInUTC() throws {
        let tenant = try MemoryTestTenant()
        let longest = try tenant.create(["text": "ten years", "ttl_seconds": 315_360_000])
        let created = UTCDate.parseTimestamp(try #require(longest["created_at"]?.stringValue))
        let expires = UTCDate.parseTimestamp(try #require(longest["expires_at"]?.stringValue))
        #expect(expires == created?.addingTimeInterval(315_360_000))
        let offset = try tenant.create(["text": "offset", "expires_at": "2999-06-01T12:30:00.123456+02:00"])
        #expect(offset["expires_at"] == "2999-06-01T10:30:00.123Z")
        let short = try tenant.create(["text": "one second", "ttl_seconds": 1])
        #expect(short["expires_at"] != .null)
    }

    @Test func putSetsKeepsAndClearsTheExpiry() throws {
        let tenant = try MemoryTestTenant()
        let id = try #require(try tenant.create(["text": "plain"])["id"]?.stringValue)
        let set = try tenant.call("PUT", "/v1/memories/\(id)", ["expires_at": "2999-01-01T00:00:00Z"])
        #expect(set.status == 200)
        #expect(set.data?["expires_at"] == "2999-01-01T00:00:00.000Z")
        #expect(set.data?["version"] == 2)
        let kept = try tenant.call("PUT", "/v1/memories/\(id)", ["text": "changed"])
        #expect(kept.data?["expires_at"] == "2999-01-01T00:00:00.000Z")
        let ttl = try tenant.call("PUT", "/v1/memories/\(id)", ["ttl_seconds": 3600, "expires_at": .null])
        #expect(ttl.status == 200, "expires_at: null beside ttl_seconds is absent, not both")
        let ttlAt = UTCDate.parseTimestamp(try #require(ttl.data?["expires_at"]?.stringValue))
        let updatedAt = UTCDate.parseTimestamp(try #require(ttl.data?["updated_at"]?.stringValue))
        #expect(abs((ttlAt?.timeIntervalSince1970 ?? 0) - (updatedAt?.timeIntervalSince1970 ?? 0) - 3600) < 1)
        let cleared = try tenant.call("PUT", "/v1/memories/\(id)", ["expires_at": .null])
        #expect(cleared.status == 200)
        #expect(cleared.data?["expires_at"] == .null)
        #expect(try tenant.call("GET", "/v1/memories/\(id)").data?["expires_at"] == .null)
        let nothing = try tenant.call("PUT", "/v1/memories/\(id)", ["ttl_seconds": .null])
        #expect(nothing.status == 400, "a PUT that changes nothing is refused as before")
    }

    @Test func anExpiredMemoryIsGoneAsIfDeletedAndItsIDIsFree() throws {
        let tenant = try MemoryTestTenant()
        let pool = MemoryTestGateway.shared.running.services.pool
        let id = "expiring-\(UInt32.random(in: 0...UInt32.max))"
        try tenant.create(["text": "first life of the walrus", "memory_id": .string(id), "ttl_seconds": 3600,
                           "space_id": "zoo"])
        #expect(try tenant.call("PUT", "/v1/memories/\(id)", ["text": "second life of the walrus"]).status == 200)
        let before = try #require(try tenant.call("GET", "/v1/memories/\(id)").data?["updated_at"]?.stringValue)
        try Self.expire(pool, orgID: tenant.orgID, id: id)

        #expect(try tenant.call("GET", "/v1/memories/\(id)").status == 404)
        #expect(try tenant.call("GET", "/v1/memories/\(id)?as_of=\(before)").status == 404)
        #expect(try tenant.call("GET", "/v1/memories/\(id)/history").status == 404)
        #expect(try tenant.call("PUT", "/v1/memories/\(id)", ["text": "x"]).status == 404)
        #expect(try tenant.call("DELETE", "/v1/memories/\(id)").status == 404)
        #expect(try tenant.call("GET", "/v1/memories/count").data?["count"] == 0)
        #expect(try tenant.call("GET", "/v1/spaces/zoo").data?["memory_count"] == 0)
        let asOfQuery = try tenant.call("POST", "/v1/query", ["context": "walrus", "as_of": .string(before),
                                                              "relevance_threshold": 0.1])
        #expect(asOfQuery.data?["memories"]?.arrayValue?.isEmpty == true)
        let erased = try tenant.call("DELETE", "/v1/memories?confirm=true")
        #expect(erased.data?["deleted"] == 0, "an expired memory is not erased again")

        // The id is free again, as after a delete: a new memory, version 1, no old history.
        let again = try tenant.call("POST", "/v1/memories", ["text": "new walrus", "memory_id": .string(id)])
        #expect(again.status == 201)
        #expect(again.data?["version"] == 1)
        #expect(again.data?["expires_at"] == .null)
        let history = try tenant.call("GET", "/v1/memories/\(id)/history")
        #expect(history.data?["versions"]?.arrayValue?.count == 1)
    }

    @Test func extractionStoresAStatementAgainOnceItsMemoryExpired() throws {
        let tenant = try MemoryTestTenant()
        let pool = MemoryTestGateway.shared.running.services.pool
        let first = try tenant.call("POST", "/v1/query/extract", ["content": "The user owns a red kayak."])
        let id = try #require(first.data?["memory_ids"]?.arrayValue?.first?.stringValue)
        let repeated = try tenant.call("POST", "/v1/query/extract", ["content": "The user owns a red kayak."])
        #expect(repeated.data?["duplicates_skipped"] == 1)
        try Self.expire(pool, orgID: tenant.orgID, id: id)
        let afterExpiry = try tenant.call("POST", "/v1/query/extract", ["content": "The user owns a red kayak."])
        #expect(afterExpiry.data?["memories_created"] == 1)
        #expect(afterExpiry.data?["duplicates_skipped"] == 0)
    }

    @Test func batchItemsTakeExpiryAndReuseExpiredIDs() throws {
        let tenant = try MemoryTestTenant()
        let pool = MemoryTestGateway.shared.running.services.pool
        let stale = "stale-\(UInt32.random(in: 0...UInt32.max))"
        try tenant.create(["text": "old", "memory_id": .string(stale)])
        try Self.expire(pool, orgID: tenant.orgID, id: stale)
        let batch = try tenant.call("POST", "/v1/memories/batch", [
            "memories": [
                ["text": "with ttl", "memory_id": "b-ttl", "ttl_seconds": 600],
                ["text": "with time", "memory_id": "b-at", "expires_at": "2999-01-01T00:00:00-05:00"],
                ["text": "forever", "memory_id": "b-none"],
                ["text": "reborn", "memory_id": .string(stale)],
            ],
        ])
        #expect(batch.status == 201)
        #expect(batch.data?["created"] == 4, "\(batch.text)")
        #expect(try tenant.call("GET", "/v1/memories/b-at").data?["expires_at"] == "2999-01-01T05:00:00.000Z")
        #expect(try tenant.call("GET", "/v1/memories/b-none").data?["expires_at"] == .null)
        #expect(try tenant.call("GET", "/v1/memories/b-ttl").data?["expires_at"] != .null)
        #expect(try tenant.call("GET", "/v1/memories/\(stale)").data?["text"] == "reborn")

        // on_conflict: update sets an item's expiry when it names one and keeps it otherwise.
        let update = try tenant.call("POST", "/v1/memories/batch", [
            "on_conflict": "update",
            "memories": [
                ["text": "with ttl v2", "memory_id": "b-ttl"],
                ["text": "forever v2", "memory_id": "b-none", "expires_at": "2998-01-01T00:00:00Z"],
            ],
        ])
        #expect(update.data?["updated"] == 2)
        #expect(try tenant.call("GET", "/v1/memories/b-ttl").data?["expires_at"] != .null)
        #expect(try tenant.call("GET", "/v1/memories/b-none").data?["expires_at"] == "2998-01-01T00:00:00.000Z")
    }

    @Test func theSweeperDeletesInBatchesAndReturnsWhatItDeleted() throws {
        let gateway = ExpiryTestGateway.shared
        let pool = gateway.running.services.pool
        let (orgID, _) = try gateway.createTenant()
        // 1,200 memories with history, expired long ago (so the oldest of all), inserted and swept
        // in one transaction: no other sweeper sees them before this one has taken its batch.
        let swept = try pool.transaction { connection in
            _ = try connection.query(
                """
                INSERT INTO memories (org_id, env, memory_id, text, expires_at)
                SELECT $1, 'live', 'swept-' || i, 'swept ' || i, '2000-01-01T00:00:00Z' FROM generate_series(1, 1200) i
                """, [.text(orgID)])
            _ = try connection.query(
                """
                INSERT INTO memory_versions (org_id, env, memory_id, version, text, metadata, source, created_at,
                                             valid_from, superseded_at)
                SELECT $1, 'live', 'swept-' || i, 1, 'old', '{}', 'api', now(), now(), now() FROM generate_series(1, 1200) i
                """, [.text(orgID)])
            return try MemoryExpiry.deleteExpired(connection, limit: 50)
        }
        #expect(swept.count == 50)
        #expect(Set(swept).count == 50)
        #expect(swept.allSatisfy { $0.orgID == orgID && $0.env == "live" && $0.memoryID.hasPrefix("swept-") })
        let remaining = try pool.query(
            "SELECT (SELECT count(*) FROM memories WHERE org_id = $1), (SELECT count(*) FROM memory_versions WHERE org_id = $1)",
            [.text(orgID)])
        #expect(remaining.first?.int(0) ?? 0 <= 1150)
        #expect(remaining.first?.int(0) == remaining.first?.int(1), "history goes with its memory")
        #expect(try eventually(timeout: .seconds(60)) {
            let rows = try pool.query(
                "SELECT (SELECT count(*) FROM memories WHERE org_id = $1) + (SELECT count(*) FROM memory_versions WHERE org_id = $1)",
                [.text(orgID)])
            return rows.first?.int(0) == 0
        }, "the running sweepers delete the rest in batches")
    }

    @Test func onlyOneInstanceSweepsAtATime() throws {
        let gateway = ExpiryTestGateway.shared
        let pool = gateway.running.services.pool
        let tenant = try gateway.createTenant()
        let sweeper = MemorySweeper(pool: pool, configuration: MemorySweeper.Configuration(), webhooks: WebhookOutbox())
        try pool.withConnection { connection in
            // Another instance's sweep holds the lock: this one deletes nothing, even with work to do.
            _ = try connection.query("SELECT pg_advisory_lock(hashtextextended($1, 0))", [.text(MemorySweeper.lockName)])
            defer {
                _ = try? connection.query("SELECT pg_advisory_unlock(hashtextextended($1, 0))", [.text(MemorySweeper.lockName)])
            }
            try pool.query("INSERT INTO memories (org_id, env, memory_id, text, expires_at) VALUES ($1, 'live', 'locked', 'x', now())",
                           [.text(tenant.orgID)])
            #expect(try sweeper.sweep() == 0)
            #expect(try Self.storedRows(pool, orgID: tenant.orgID, id: "locked").current == 1)
        }
        #expect(try eventually(timeout: .seconds(60)) {
            try sweeper.sweep() >= 0 && Self.storedRows(pool, orgID: tenant.orgID, id: "locked").current == 0
        })
    }
}
