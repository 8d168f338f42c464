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
        guard reader.issues.list.count == before, let text else { return nil }
        return MemoryInput(text: text, metadataJSON: metadata, memoryID: memoryID, spaceID: spaceID)
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
