import PostgresStore

/// The list filters of `GET /v1/memories`, `/count`, `/export` and `DELETE /v1/memories`:
/// `space_id`, `source`, `metadata.<key>=<value>` and `metadata.<key>[op]=<value>` (several AND
/// together, at most `MetadataFilter.maxConditions`), `updated_since` (inclusive) and
/// `updated_before` (exclusive). Expired memories never match (`MemoryObject.isLive`).
///
/// A metadata filter matches the string value, or the number/boolean/null the text spells
/// (`metadata.score=3` matches `3`, `3.0` and `"3"`; `metadata.flag=true` matches `true` and
/// `"true"`); an array value matches when it contains such an element. Matching uses jsonb
/// containment, so the metadata GIN index serves it.
struct MemoryFilter: Sendable {
    /// `space_id=`: memories in this space.
    var spaceID: String?
    /// `source=`: `api` or `extraction`.
    var source: String?
    /// Per metadata filter, the jsonb documents any of which the metadata must contain.
    var metadataCandidates: [[String]] = []
    /// The `metadata.<key>[op]=<value>` filters (see `MetadataFilter` for their typing rules).
    var metadataConditions: [MetadataFilter] = []
    /// `updated_since=` (inclusive), RFC 3339 text for `$n::timestamptz`.
    var updatedSince: String?
    /// `updated_before=` (exclusive), RFC 3339 text for `$n::timestamptz`.
    var updatedBefore: String?

    /// The valid values of `source`.
    static let sources: Set<String> = ["api", "extraction"]

    /// Reads the filters from `query`, adding problems to `issues`.
    init(_ query: QueryParameters, issues: inout Issues) {
        if let spaceID = query["space_id"] {
            if Identifiers.isValid(spaceID, maxLength: MemoryInput.maxSpaceIDLength) {
                self.spaceID = spaceID
            } else {
                issues.add("space_id", "must match [A-Za-z0-9_-]{1,\(MemoryInput.maxSpaceIDLength)}")
            }
        }
        if let source = query["source"] {
            if Self.sources.contains(source) {
                self.source = source
            } else {
                issues.add("source", "must be 'api' or 'extraction'")
            }
        }
        updatedSince = Self.timestamp(query, "updated_since", &issues)
        updatedBefore = Self.timestamp(query, "updated_before", &issues)
        var conditions = 0
        for (name, value) in query.pairs where name.hasPrefix("metadata.") {
            var key = String(name.dropFirst("metadata.".count))
            guard !key.unicodeScalars.contains("\u{0}"), !value.unicodeScalars.contains("\u{0}") else {
                issues.add(name, "must not contain U+0000")
                continue
            }
            conditions += 1
            if conditions == MetadataFilter.maxConditions + 1 {
                issues.add(name, "at most \(MetadataFilter.maxConditions) metadata filters")
            }
            // `metadata.<key>[op]`: the last bracketed word names the operator.
            if key.hasSuffix("]"), let open = key.lastIndex(of: "[") {
                let op = String(key[key.index(after: open)..<key.index(before: key.endIndex)])
                key = String(key[..<open])
                do {
                    metadataConditions.append(try MetadataFilter.queryCondition(key: key, op: op, text: value, field: name))
                } catch {
                    issues.add(error.field, error.message)
                }
                continue
            }
            metadataCandidates.append(Self.candidates(key: key, value: value))
        }
    }

    /// The containment documents for `metadata.<key>=<value>`: `{key: "value"}`, `{key: ["value"]}`
    /// and, when the text is a JSON number, `true`, `false` or `null`, the same with that literal.
    static func candidates(key: String, value: String) -> [String] {
        var scalars: [JSONValue] = [.string(value)]
        if let literal = try? JSONParser.parse(Array(value.utf8)) {
            switch literal {
            case .number:
                // Only a number metadata could hold: one jsonb cannot store (`0e99999999999`)
                // would fail the whole statement, and no stored memory can match it anyway.
                if Metadata.problem(.object(JSONObject([(key, literal)]))) == nil { scalars.append(literal) }
            case .bool, .null: scalars.append(literal)
            case .string, .array, .object: break
            }
        }
        func document(_ value: JSONValue) -> String {
            String(decoding: JSONValue.object(JSONObject([(key, value)])).jsonBytes, as: UTF8.self)
        }
        return scalars.flatMap { [document($0), document(.array([$0]))] }
    }

    /// The query parameter `name` as an RFC 3339 timestamp for `$n::timestamptz`, or an issue.
    static func timestamp(_ query: QueryParameters, _ name: String, _ issues: inout Issues) -> String? {
        guard let text = query[name] else { return nil }
        guard let timestamp = timestampText(text) else {
            issues.add(name, "must be an RFC 3339 date-time such as 2026-11-24T10:30:00Z")
            return nil
        }
        return timestamp
    }

    /// `text` as canonical UTC (`UTCDate.canonicalTimestamp`) when it is RFC 3339. A client that did not percent-encode the `+` of an
    /// offset (`…T10:30:00+02:00`) sends a space, which form decoding made of it: that space is
    /// read back as `+`.
    static func timestampText(_ text: String) -> String? {
        guard text.utf8.count <= 64 else { return nil }
        if let canonical = UTCDate.canonicalTimestamp(text) { return canonical }
        let bytes = Array(text.utf8)
        guard bytes.count >= 25, bytes[bytes.count - 6] == UInt8(ascii: " ") else { return nil }
        var fixed = bytes
        fixed[bytes.count - 6] = UInt8(ascii: "+")
        let candidate = String(decoding: fixed, as: UTF8.self)
        return UTCDate.canonicalTimestamp(candidate)
    }

    /// The `WHERE` conditions on memories aliased `m`, tenant and environment included, with
    /// placeholders numbered from `$1`; `parameters` gets their values (org and env first).
    /// Only placeholders are built from the request, never SQL text.
    func whereClause(principal: Principal, parameters: inout [PostgresValue]) -> String {
        parameters.append(.text(principal.orgID))
        parameters.append(.text(principal.env))
        var conditions = ["m.org_id = $\(parameters.count - 1)", "m.env = $\(parameters.count)"]
        conditions.append(MemoryObject.isLive())
        if let spaceID {
            parameters.append(.text(spaceID))
            conditions.append("m.space_id = $\(parameters.count)")
        }
        if let source {
            parameters.append(.text(source))
            conditions.append("m.source = $\(parameters.count)")
        }
        if let updatedSince {
            parameters.append(.text(updatedSince))
            conditions.append("m.updated_at >= $\(parameters.count)::timestamptz")
        }
        if let updatedBefore {
            parameters.append(.text(updatedBefore))
            conditions.append("m.updated_at < $\(parameters.count)::timestamptz")
        }
        for documents in metadataCandidates {
            parameters.append(.textArray(documents))
            conditions.append("m.metadata @> ANY ($\(parameters.count)::text[]::jsonb[])")
        }
        for condition in metadataConditions {
            conditions.append(condition.sql(alias: "m", parameters: &parameters))
        }
        return conditions.joined(separator: " AND ")
    }
}
