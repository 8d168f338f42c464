/// A validated `POST /v1/query` body. Every field problem is collected so one 400 lists them all.
struct QueryRequest: Sendable {
    static let contextLength = 1...2_000
    static let maxMemoriesRange = 1...100
    static let defaultMaxMemories = 20
    static let defaultThreshold = 0.5
    static let defaultLanguage = "english"

    /// The text to search for; also echoed back unchanged as `query_context`.
    var context: String
    var maxMemories = QueryRequest.defaultMaxMemories
    /// Memories scoring below this are not returned (`relevance_score >= relevanceThreshold`).
    var relevanceThreshold = QueryRequest.defaultThreshold
    var includeMetadata = true
    var spaceID: String?
    /// Only memories whose metadata matches: containment for plain values, operators and
    /// `$and`/`$or`/`$not` (see `MetadataFilter`).
    var filters: MetadataFilter?
    var hybridSearch = false
    /// 0…1: how much recency weighs against text quality (see docs/scoring.md).
    var temporalBoost = 0.0
    /// A PostgreSQL text search configuration name; checked against `pg_ts_config` by the handler.
    var language = QueryRequest.defaultLanguage
    /// RFC 3339 text, passed to PostgreSQL as given.
    var asOf: String?
    var countBelowThreshold = false

    /// Reads and validates `object`.
    /// - Throws: `APIError` 400 `invalid_request` listing every bad field.
    init(_ object: JSONObject) throws(APIError) {
        var body = BodyReader(object)
        let context = body.string("context", required: true, length: Self.contextLength)
        if let value = body.integer("max_memories", range: Self.maxMemoriesRange) { maxMemories = value }
        if let value = body.number("relevance_threshold", range: 0...1) { relevanceThreshold = value }
        if let value = body.bool("include_metadata") { includeMetadata = value }
        spaceID = body.identifier("space_id", maxLength: 64)
        if let value = object["filters"], value != .null {
            if case .object(let object) = value {
                if value.containsNUL {
                    body.issues.add("filters", "must not contain U+0000")
                } else if Metadata.containsUnstorableNumber(value) {
                    body.issues.add("filters", "holds a number no metadata can hold (too large written out in full)")
                } else {
                    filters = MetadataFilter.parse(object, issues: &body.issues)
                }
            } else {
                body.issues.add("filters", "must be an object")
            }
        }
        if let value = body.bool("hybrid_search") { hybridSearch = value }
        if let value = body.number("temporal_boost", range: 0...1) { temporalBoost = value }
        if let value = body.string("language", length: 1...63) { language = value }
        asOf = body.timestamp("as_of")
        if let value = body.bool("count_below_threshold") { countBelowThreshold = value }
        try body.issues.check()
        self.context = context ?? ""
    }
}
