import Auth
import PostgresStore

/// `POST /v1/memories/batch` (the import path): `{memories: [{text, metadata?, memory_id?,
/// space_id?, expires_at? | ttl_seconds?}], on_conflict: "error" | "skip" | "update"}`, 1–1,000
/// items, one transaction. An id held by an expired memory is free, as after a delete.
///
/// - Every item is validated first; one 400 lists every problem (`memories[3].text`).
/// - `on_conflict` decides what an item whose `memory_id` already exists does: `error` (the
///   default) refuses the whole request with 409 and writes nothing; `skip` leaves the stored
///   memory alone; `update` replaces its text (and its metadata and space when the item gives
///   them), bumping the version and keeping the old one, as `PUT` does.
/// - Duplicate `memory_id`s within one request keep the first occurrence; the later ones are
///   ignored and counted in `skipped`, whatever `on_conflict` says.
/// - 201 `{created, updated, skipped, memory_ids}`: `memory_ids` lists the memories created or
///   updated, in request order. No `Location` (several resources).
/// - Set-based SQL: a handful of statements whatever the item count.
enum MemoryBatch {
    /// Most items in one request.
    static let maxItems = 1_000

    /// What to do with an item whose id is taken.
    enum ConflictPolicy: String {
        case error, skip, update
    }

    /// One item to write, after validation and de-duplication.
    private struct Item {
        var index: Int
        var memoryID: String
        var input: MemoryInput
    }

    /// The handler: validates everything, then writes in one transaction (see the type's notes).
    static func importBatch(_ context: RequestContext) throws -> APIResponse {
        let principal = context.tenant
        let body = try context.jsonBody()
        var reader = BodyReader(body)
        var policy = ConflictPolicy.error
        if let text = reader.string("on_conflict", length: 1...16) {
            if let parsed = ConflictPolicy(rawValue: text) {
                policy = parsed
            } else {
                reader.issues.add("on_conflict", "must be 'error', 'skip' or 'update'")
            }
        }
        var inputs: [MemoryInput] = []
        switch body["memories"] {
        case nil, .null?:
            reader.issues.add("memories", "is required")
        case .array(let elements)?:
            if elements.isEmpty || elements.count > maxItems {
                reader.issues.add("memories", "must hold 1-\(maxItems) items (got \(elements.count))")
            } else {
                inputs = readItems(elements, issues: &reader.issues)
            }
        case .some:
            reader.issues.add("memories", "must be an array of memory objects")
        }
        try reader.issues.check()

        // Keep the first occurrence of each id; generate ids for items without one.
        var items: [Item] = []
        var seen = Set<String>()
        var duplicates = 0
        for (index, input) in inputs.enumerated() {
            let memoryID = input.memoryID ?? Identifier.make(prefix: "mem")
            guard seen.insert(memoryID).inserted else {
                duplicates += 1
                continue
            }
            items.append(Item(index: index, memoryID: memoryID, input: input))
        }

        // Concurrent imports of the same ids may deadlock (reported as a serialization failure) or
        // create an id between this import's check and its insert: both are transient, so the
        // whole transaction is tried again (it is all or nothing) a few times.
        try MemoryWrites.prepareStorage(context)
        var attempt = 0
        let outcome: Outcome
        while true {
            attempt += 1
            do {
                // One write of a group: the import shares its commit with concurrent writes.
                outcome = try context.pool.writeTransaction(context.services.writes) { connection in
                    try write(items, policy: policy, connection: connection, context: context)
                }
                break
            } catch let error where attempt < 4 && isTransient(error) {
                continue
            } catch is ConcurrentCreate {
                throw APIError.conflict("memories with these ids are being created concurrently; retry the import")
            }
        }
        var data = JSONObject()
        data["created"] = .int(outcome.created)
        data["updated"] = .int(outcome.updated)
        data["skipped"] = .int(outcome.skipped + duplicates)
        data["memory_ids"] = .array(outcome.memoryIDs.map(JSONValue.string))
        var response = APIResponse(status: 201, json: .object(data))
        response.memoryIDs = outcome.memoryIDs
        return response
    }

    /// An id created by a concurrent request while this `update` import ran.
    private struct ConcurrentCreate: Error {}

    private static func isTransient(_ error: any Error) -> Bool {
        if error is ConcurrentCreate { return true }
        if case StoreError.serializationFailure? = error as? StoreError { return true }
        return false
    }

    /// Validates each element, adding issues prefixed `memories[i].`.
    private static func readItems(_ elements: [JSONValue], issues: inout Issues) -> [MemoryInput] {
        var inputs: [MemoryInput] = []
        inputs.reserveCapacity(elements.count)
        for (index, element) in elements.enumerated() {
            guard case .object(let object) = element else {
                issues.add("memories[\(index)]", "must be an object")
                continue
            }
            var itemReader = BodyReader(object)
            let input = MemoryInput.read(&itemReader)
            for issue in itemReader.issues.list {
                issues.add("memories[\(index)].\(issue.field)", issue.message)
            }
            if let input { inputs.append(input) }
        }
        return inputs
    }

    private struct Outcome {
        var created = 0
        var updated = 0
        var skipped = 0
        var memoryIDs: [String] = []
    }

    /// Writes `items` inside the caller's transaction.
    private static func write(_ items: [Item], policy: ConflictPolicy, connection: PostgresConnection,
                              context: RequestContext) throws -> Outcome {
        let principal = context.tenant
        let tenant: [PostgresValue] = [.text(principal.orgID), .text(principal.env)]
        let ids = items.map(\.memoryID)
        // Expired memories not swept yet are gone: delete them now, so their ids are free.
        let expired = try MemoryExpiry.deleteExpired(connection, principal: principal, memoryIDs: ids)
        try MemoryExpiry.recordDeleted(expired, connection, webhooks: context.services.webhooks)

        // Which ids exist; lock them (in id order, so concurrent batches do not deadlock) when
        // they are to be updated.
        let existingRows = try connection.query(
            """
            SELECT memory_id FROM memories WHERE org_id = $1 AND env = $2 AND memory_id = ANY ($3::text[])
             ORDER BY memory_id\(policy == .update ? " FOR UPDATE" : "")
            """,
            tenant + [.textArray(ids)])
        let existing = Set(existingRows.compactMap { $0.string("memory_id") })
        if policy == .error, !existing.isEmpty {
            throw conflict(items.filter { existing.contains($0.memoryID) })
        }
        let toCreate = items.filter { !existing.contains($0.memoryID) }
        let toUpdate = policy == .update ? items.filter { existing.contains($0.memoryID) } : []
        try MemoryWrites.reserveQuota(connection, principal: principal, adding: toCreate.count)
        try MemoryWrites.reserveStorage(context, adding: (toCreate + toUpdate).reduce(0) { $0 + $1.input.storedBytes })

        // Spaces on first use, each held until commit (a concurrent delete of one waits).
        for spaceID in Array(Set(items.compactMap(\.input.spaceID))).sorted() {
            try MemoryWrites.ensureSpace(connection, principal: principal, spaceID: spaceID)
        }

        let created = try toCreate.isEmpty ? [] : insertNew(toCreate, policy: policy, connection: connection, context: context)
        let updated = try toUpdate.isEmpty ? [] : updateExisting(toUpdate, connection: connection, context: context)

        var outcome = Outcome()
        outcome.created = created.count
        outcome.updated = updated.count
        outcome.skipped = items.count - created.count - updated.count
        outcome.memoryIDs = items.map(\.memoryID).filter { created.contains($0) || updated.contains($0) }
        return outcome
    }

    /// Inserts the new memories of a batch; the ids it created.
    private static func insertNew(_ toCreate: [Item], policy: ConflictPolicy, connection: PostgresConnection,
                                  context: RequestContext) throws -> Set<String> {
        let principal = context.tenant
        let tenant: [PostgresValue] = [.text(principal.orgID), .text(principal.env)]
        // Empty strings stand for "none" (text[] parameters carry no NULLs; ids are never empty).
        let rows = try connection.query(
            """
            INSERT INTO memories AS m (org_id, env, memory_id, text, metadata, space_id, source, request_id, key_prefix,
                                  expires_at)
            SELECT $1, $2, u.id, u.text, coalesce(nullif(u.metadata, ''), '{}')::jsonb, nullif(u.space, ''),
                   'api', $7, $8, \(Self.expirySQL)
              FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $9::text[], $10::text[]) WITH ORDINALITY
                   AS u(id, text, metadata, space, expires_at, ttl, position)
             ORDER BY u.position
            ON CONFLICT DO NOTHING
            RETURNING \(MemoryObject.columns)
            """,
            tenant + [.textArray(toCreate.map(\.memoryID)), .textArray(toCreate.map(\.input.text)),
                      .textArray(toCreate.map { $0.input.metadataJSON ?? "" }),
                      .textArray(toCreate.map { $0.input.spaceID ?? "" }),
                      .text(context.request.requestID), .text(principal.keyPrefix)]
                + expiryArrays(toCreate))
        let memories = rows.map { MemoryRow($0) }
        let created = Set(memories.map(\.id))
        try context.services.webhooks.record(connection, orgID: principal.orgID, env: principal.env,
                                             type: WebhookEvent.memoryCreated,
                                             data: memories.map { .object($0.json) })
        // Only a concurrent writer taking an id between the check and the insert gets here:
        // for `update` the transaction is tried again (the id now exists and is updated).
        if created.count != toCreate.count, policy != .skip {
            if policy == .update { throw ConcurrentCreate() }
            throw conflict(toCreate.filter { !created.contains($0.memoryID) })
        }
        return created
    }

    /// Updates the existing memories of a batch (locked by the caller); the ids it updated.
    private static func updateExisting(_ toUpdate: [Item], connection: PostgresConnection,
                                       context: RequestContext) throws -> Set<String> {
        let principal = context.tenant
        let tenant: [PostgresValue] = [.text(principal.orgID), .text(principal.env)]
        let rows = try connection.query(
            """
            WITH u AS (
                SELECT * FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $9::text[], $10::text[])
                       AS u(id, text, metadata, space, expires_at, ttl)
            ), clock AS (
                SELECT gw_now() AS now
            ), kept AS (
                INSERT INTO memory_versions (org_id, env, memory_id, version, text, metadata, space_id, source,
                                             created_at, valid_from, superseded_at, request_id, key_prefix)
                SELECT o.org_id, o.env, o.memory_id, o.version, o.text, o.metadata, o.space_id, o.source,
                       o.created_at, o.updated_at, greatest(clock.now, o.updated_at), o.request_id, o.key_prefix
                  FROM memories o JOIN u ON o.memory_id = u.id, clock
                 WHERE o.org_id = $1 AND o.env = $2
            )
            UPDATE memories AS m
               SET text = u.text, metadata = coalesce(nullif(u.metadata, '')::jsonb, m.metadata),
                   space_id = coalesce(nullif(u.space, ''), m.space_id), version = m.version + 1,
                   updated_at = greatest(clock.now, m.updated_at), request_id = $7, key_prefix = $8,
                   expires_at = coalesce(\(Self.expirySQL), m.expires_at)
              FROM u, clock
             WHERE m.org_id = $1 AND m.env = $2 AND m.memory_id = u.id
            RETURNING \(MemoryObject.columns)
            """,
            tenant + [.textArray(toUpdate.map(\.memoryID)), .textArray(toUpdate.map(\.input.text)),
                      .textArray(toUpdate.map { $0.input.metadataJSON ?? "" }),
                      .textArray(toUpdate.map { $0.input.spaceID ?? "" }),
                      .text(context.request.requestID), .text(principal.keyPrefix)]
                + expiryArrays(toUpdate))
        let memories = rows.map { MemoryRow($0) }
        let updated = Set(memories.map(\.id))
        try context.services.webhooks.record(connection, orgID: principal.orgID, env: principal.env,
                                             type: WebhookEvent.memoryUpdated,
                                             data: memories.map { .object($0.json) })
        return updated
    }

    /// An item's expiry from `u.expires_at` / `u.ttl` (see ``expiryArrays(_:)``; empty: none).
    private static let expirySQL =
        "coalesce(date_trunc('milliseconds', nullif(u.expires_at, '')::timestamptz),"
        + " gw_now() + nullif(u.ttl, '')::int * interval '1 second')"

    /// `$9` and `$10`: each item's `expires_at` text and `ttl_seconds` as text ('' for none: text[]
    /// parameters carry no NULLs).
    private static func expiryArrays(_ items: [Item]) -> [PostgresValue] {
        var at: [String] = []
        var ttl: [String] = []
        for item in items {
            switch item.input.expiry {
            case .at(let text)?: at.append(text); ttl.append("")
            case .after(let seconds)?: at.append(""); ttl.append(String(seconds))
            case .never?, nil: at.append(""); ttl.append("")
            }
        }
        return [.textArray(at), .textArray(ttl)]
    }

    /// 409 naming the items whose id is taken.
    private static func conflict(_ items: [Item]) -> APIError {
        var error = APIError.conflict(
            items.count == 1 ? "a memory with id '\(items[0].memoryID)' already exists"
                : "\(items.count) memory ids already exist")
        error.details = items.prefix(100).map {
            APIError.FieldIssue(field: "memories[\($0.index)].memory_id", message: "'\($0.memoryID)' already exists")
        }
        return error
    }
}
