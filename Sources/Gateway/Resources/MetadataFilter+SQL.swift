import PostgresStore

/// The SQL of a metadata filter: fixed fragments and placeholders only.
extension MetadataFilter {
    /// The condition on the memory (or version) aliased `alias`, never NULL (so `NOT` is the exact
    /// complement). Keys and values are appended to `parameters`; the text holds only fixed
    /// fragments and their placeholder numbers.
    func sql(alias: String, parameters: inout [PostgresValue]) -> String {
        func bind(_ value: PostgresValue) -> String {
            parameters.append(value)
            return "$\(parameters.count)"
        }
        let metadata = "\(alias).metadata"
        switch self {
        case .all(let parts):
            guard !parts.isEmpty else { return "true" }
            return "(" + parts.map { $0.sql(alias: alias, parameters: &parameters) }.joined(separator: " AND ") + ")"
        case .any(let parts):
            guard !parts.isEmpty else { return "false" }
            return "(" + parts.map { $0.sql(alias: alias, parameters: &parameters) }.joined(separator: " OR ") + ")"
        case .not(let inner):
            return "(NOT \(inner.sql(alias: alias, parameters: &parameters)))"
        case .contains(let document):
            return "\(metadata) @> \(bind(.jsonb(document)))::jsonb"
        case .containsAny(let documents):
            return "\(metadata) @> ANY (\(bind(.textArray(documents)))::text[]::jsonb[])"
        case .compare(let key, let condition):
            return Self.sql(key: key, condition, metadata: metadata, bind: bind)
        }
    }

    private static func sql(key: String, _ condition: Operator, metadata: String,
                            bind: (PostgresValue) -> String) -> String {
        // Some element (the value itself unless it is an array) satisfies `predicate`. A scalar is
        // tested directly (expanding every value into a set costs 4x on a scan); a missing key is
        // NULL, which `coalesce` makes false, so `NOT` stays the exact complement.
        func someElement(_ predicate: (String) -> String) -> String {
            let value = "(\(metadata) -> \(bind(.text(key)))::text)"
            return "coalesce(CASE WHEN jsonb_typeof(\(value)) = 'array'"
                + " THEN EXISTS (SELECT 1 FROM jsonb_array_elements(\(value)) AS e(v) WHERE \(predicate("e.v")))"
                + " ELSE \(predicate(value)) END, false)"
        }
        func json(_ value: JSONValue) -> String { String(decoding: value.jsonBytes, as: UTF8.self) }
        switch condition {
        case .equal(let value):
            return Self.containment(key: key, values: [value], metadata: metadata, bind: bind)
        case .inList(let values):
            return Self.containment(key: key, values: values, metadata: metadata, bind: bind)
        case .notEqual(let value):
            let type = bind(.text(value.jsonType))
            let operand = bind(.jsonb(json(value)))
            return someElement { "(jsonb_typeof(\($0)) = \(type)::text AND \($0) <> \(operand)::jsonb)" }
        case .notInList(let values):
            let types = bind(.textArray(Array(Set(values.map(\.jsonType))).sorted()))
            let operands = bind(.textArray(values.map(json)))
            return someElement {
                "(jsonb_typeof(\($0)) = ANY (\(types)::text[]) AND \($0) <> ALL (\(operands)::text[]::jsonb[]))"
            }
        case .greater(let value, let orEqual), .less(let value, let orEqual):
            var symbol = if case .greater = condition { ">" } else { "<" }
            if orEqual { symbol += "=" }
            if case .string(let text) = value {
                let operand = bind(.text(text))
                return someElement {
                    "(jsonb_typeof(\($0)) = 'string' AND (\($0) #>> '{}') COLLATE \"C\" \(symbol) \(operand)::text COLLATE \"C\")"
                }
            }
            let operand = bind(.jsonb(json(value)))
            return someElement { "(jsonb_typeof(\($0)) = 'number' AND \($0) \(symbol) \(operand)::jsonb)" }
        case .exists(let flag):
            let test = "\(metadata) ? \(bind(.text(key)))::text"
            return flag ? test : "NOT (\(test))"
        }
    }

    /// Some element of the key's value equals one of `values` (same type; numbers numerically):
    /// containment of `{key: v}` or `{key: [v]}`, which the GIN index serves.
    private static func containment(key: String, values: [JSONValue], metadata: String,
                                    bind: (PostgresValue) -> String) -> String {
        var documents: [String] = []
        for value in values {
            for shape in [value, JSONValue.array([value])] {
                documents.append(String(decoding: JSONValue.object(JSONObject([(key, shape)])).jsonBytes, as: UTF8.self))
            }
        }
        return "\(metadata) @> ANY (\(bind(.textArray(documents)))::text[]::jsonb[])"
    }
}

extension JSONValue {
    /// `jsonb_typeof`'s name for this value's type.
    var jsonType: String {
        switch self {
        case .string: "string"
        case .number: "number"
        case .bool: "boolean"
        case .null: "null"
        case .array: "array"
        case .object: "object"
        }
    }

    /// Whether `gt`/`lt` can compare it: a number or a string.
    var isOrderable: Bool {
        switch self {
        case .number, .string: true
        case .bool, .null, .array, .object: false
        }
    }
}
