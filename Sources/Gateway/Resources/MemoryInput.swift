import Foundation
import PostgresStore

/// The validated fields of one memory to write (`POST /v1/memories`, one batch item).
struct MemoryInput: Sendable {
    /// Most Unicode scalars a memory's text may hold.
    static let maxTextLength = 50_000
    /// Longest caller-chosen memory id.
    static let maxMemoryIDLength = 128
    /// Longest space id.
    static let maxSpaceIDLength = 64
    /// Route names under `/v1/memories/` that can never be memory ids.
    static let reservedIDs: Set<String> = ["count", "batch", "export"]

    /// 1–50,000 Unicode scalars.
    var text: String
    /// Compact JSON of the metadata object; nil when the request did not give one.
    var metadataJSON: String?
    /// The caller's id, or nil to generate one.
    var memoryID: String?
    /// The space to file the memory in (created on first use), or nil.
    var spaceID: String?
    /// When the memory expires, or nil for none (a create) / unchanged (an update).
    var expiry: Expiry?

    /// Longest `ttl_seconds`: ten years.
    static let maxTTLSeconds = 315_360_000

    /// What a write asks of a memory's expiry (`expires_at` or `ttl_seconds`).
    enum Expiry: Sendable, Equatable {
        /// `expires_at`, as canonical RFC 3339 UTC text for `$n::timestamptz`.
        case at(String)
        /// `ttl_seconds` from the moment of the write (PostgreSQL's clock, like every stored time).
        case after(seconds: Int)
        /// `expires_at: null` on `PUT`: the memory no longer expires.
        case never

        /// The parameters of ``sql(at:seconds:)``: the timestamp text and the seconds (or nulls).
        var parameters: [PostgresValue] {
            switch self {
            case .at(let text): [.text(text), .null]
            case .after(let seconds): [.null, .int(Int64(seconds))]
            case .never: [.null, .null]
            }
        }

        /// The expiry an insert stores, from placeholders `$at` (timestamptz text) and `$seconds`
        /// (int), either of which may be null (both null: no expiry). Times are stored truncated to
        /// milliseconds, as every other time.
        static func sql(at: Int, seconds: Int) -> String {
            "coalesce(date_trunc('milliseconds', $\(at)::timestamptz), gw_now() + $\(seconds)::int * interval '1 second')"
        }
    }

    /// The bytes this memory will count against the storage quota (its text and its metadata as
    /// compact JSON, the jsonb printed by PostgreSQL being a little longer): for the check before
    /// the write; the stored figure itself is counted by PostgreSQL.
    var storedBytes: Int {
        text.utf8.count + (metadataJSON?.utf8.count ?? 2)
    }

    /// Reads a memory from `reader`, adding every problem to `reader.issues`; nil when invalid.
    static func read(_ reader: inout BodyReader) -> MemoryInput? {
        let before = reader.issues.list.count
        let text = readText(&reader, required: true)
        let metadata = readMetadata(&reader)
        let memoryID = readMemoryID(&reader)
        let spaceID = reader.identifier("space_id", maxLength: maxSpaceIDLength)
        let expiry = readExpiry(&reader, allowsClearing: false)
        guard reader.issues.list.count == before, let text else { return nil }
        return MemoryInput(text: text, metadataJSON: metadata, memoryID: memoryID, spaceID: spaceID, expiry: expiry)
    }

    /// `expires_at` (RFC 3339, any offset, in the future) or `ttl_seconds` (1–315,360,000), not
    /// both; nil when neither is given. With `allowsClearing` (`PUT`), `expires_at: null` (and no
    /// `ttl_seconds`) is ``Expiry/never``.
    static func readExpiry(_ reader: inout BodyReader, allowsClearing: Bool, now: Date = Date()) -> Expiry? {
        if reader.has("expires_at"), reader.has("ttl_seconds") {
            reader.issues.add("expires_at", "give expires_at or ttl_seconds, not both")
            return nil
        }
        if let seconds = reader.integer("ttl_seconds", range: 1...maxTTLSeconds) {
            return .after(seconds: seconds)
        }
        if reader.has("expires_at") {
            guard let text = reader.timestamp("expires_at") else { return nil }
            guard let instant = UTCDate.parseTimestamp(text), instant > now else {
                reader.issues.add("expires_at", "must be in the future")
                return nil
            }
            return .at(text)
        }
        if allowsClearing, reader.isExplicitNull("expires_at"), !reader.has("ttl_seconds") {
            return .never
        }
        return nil
    }

    /// `text`: 1–50,000 Unicode scalars, no U+0000 (PostgreSQL text cannot hold it).
    static func readText(_ reader: inout BodyReader, required: Bool) -> String? {
        reader.string("text", required: required, length: 1...maxTextLength)
    }

    /// `metadata` as compact JSON text, validated by the contract's rules.
    static func readMetadata(_ reader: inout BodyReader) -> String? {
        guard let metadata = reader.metadata() else { return nil }
        let value = JSONValue.object(metadata)
        guard !containsNUL(value) else {
            reader.issues.add("metadata", "must not contain U+0000")
            return nil
        }
        return String(decoding: value.jsonBytes, as: UTF8.self)
    }

    /// `memory_id`: `[A-Za-z0-9_-]{1,128}` and not a route name.
    static func readMemoryID(_ reader: inout BodyReader) -> String? {
        guard let memoryID = reader.identifier("memory_id", maxLength: maxMemoryIDLength) else { return nil }
        guard !reservedIDs.contains(memoryID) else {
            reader.issues.add("memory_id", "'\(memoryID)' is reserved (a route name)")
            return nil
        }
        return memoryID
    }

    private static func containsNUL(_ value: JSONValue) -> Bool {
        switch value {
        case .string(let text):
            return text.unicodeScalars.contains("\u{0}")
        case .array(let items):
            return items.contains(where: containsNUL)
        case .object(let object):
            return object.contains { $0.key.unicodeScalars.contains("\u{0}") || containsNUL($0.value) }
        case .null, .bool, .number:
            return false
        }
    }
}
