/// A condition on memories' metadata: query `filters` (JSON, with `$eq $ne $gt $gte $lt $lte $in
/// $nin $exists $or $and $not`) and the list filters' `metadata.<key>[op]=<value>`.
///
/// The semantics (the contract's "Precise rules (v1.1)"):
/// - Values of different types never match, `$ne` and `$nin` included; a memory without the key
///   matches neither. Numbers compare as numbers, strings by code point (`COLLATE "C"`).
/// - A metadata value that is an array matches an operator when one of its elements does; each
///   operator of one object is checked on its own (`{"$gte": 1, "$lt": 5}` is both).
/// - `$exists: true` matches a key whose value is `null`; `$eq: null` only such a key; `$not` is
///   the complement, memories without the key included.
/// - Plain values keep containment (`metadata @> {key: value}`); a plain scalar also matches an
///   array holding it (as `$eq` does), an array value the arrays holding all its elements.
///
/// ``sql(alias:parameters:)`` compiles it to a condition built only from fixed fragments and
/// placeholders: keys and values travel as parameters, never as SQL text. Equality (`$eq`, `$in`,
/// plain values) becomes jsonb containment, which the `memories_metadata` GIN index
/// (`jsonb_path_ops`) serves; the other operators are checked on the rows the other conditions
/// find (see docs/memories-and-spaces.md).
indirect enum MetadataFilter: Sendable, Equatable {
    /// Every one holds (an empty list: always true).
    case all([MetadataFilter])
    /// At least one holds.
    case any([MetadataFilter])
    /// The complement.
    case not(MetadataFilter)
    /// The metadata contains this compact JSON document.
    case contains(String)
    /// The metadata contains one of these compact JSON documents.
    case containsAny([String])
    /// An operator on the value of one key.
    case compare(key: String, Operator)

    /// An operator on one key's value; operands are scalars (string, number, boolean, null).
    enum Operator: Sendable, Equatable {
        case equal(JSONValue)
        case notEqual(JSONValue)
        case greater(JSONValue, orEqual: Bool)
        case less(JSONValue, orEqual: Bool)
        case inList([JSONValue])
        case notInList([JSONValue])
        case exists(Bool)
    }

    /// Most nested `$and`/`$or`/`$not`.
    static let maxDepth = 8
    /// Most conditions: each operator on a key, each plain value and each query-string filter.
    static let maxConditions = 64
    /// Most values in one `$in`/`$nin` (or comma-separated `in`/`nin`).
    static let maxListLength = 100

    /// The query-string operators of `metadata.<key>[op]`.
    static let queryOperators: Set<String> = ["ne", "gt", "gte", "lt", "lte", "in", "nin", "exists"]

    // MARK: - Reading

    /// Reads query `filters`, adding the first problem to `issues` (field `filters…`); nil then.
    static func parse(_ object: JSONObject, field: String = "filters", issues: inout Issues) -> MetadataFilter? {
        var parser = Parser()
        do {
            return try parser.object(object, depth: 0, path: field)
        } catch {
            issues.add(error.field, error.message)
            return nil
        }
    }

    /// `metadata.<key>[op]=<text>`: the operator named `op` on `key`, the text typed as the
    /// contract says (a JSON number, `true`/`false`/`null`, else a string).
    /// - Throws: a problem on `field` for an unknown operator or an operand it cannot take.
    static func queryCondition(key: String, op: String, text: String, field: String) throws(Problem) -> MetadataFilter {
        func typed(_ text: String) throws(Problem) -> JSONValue {
            switch text {
            case "true": return .bool(true)
            case "false": return .bool(false)
            case "null": return .null
            default: break
            }
            // Only text that is exactly a JSON number (no white space around it) is a number.
            let bytes = Array(text.utf8)
            guard let first = bytes.first, let last = bytes.last, first == UInt8(ascii: "-") || isDigit(first),
                  isDigit(last), case .number(let number)? = try? JSONParser.parse(bytes)
            else { return .string(text) }
            guard isStorable(number) else { throw Problem(field, "the number \(text.prefix(40)) is out of range") }
            return .number(number)
        }
        let condition: Operator
        switch op {
        case "ne": condition = .notEqual(try typed(text))
        case "gt", "gte", "lt", "lte":
            let value = try typed(text)
            guard value.isOrderable else { throw Problem(field, "\(op) compares numbers or strings") }
            condition = op.hasPrefix("g") ? .greater(value, orEqual: op == "gte") : .less(value, orEqual: op == "lte")
        case "in", "nin":
            let parts = text.split(separator: ",", omittingEmptySubsequences: false)
            guard parts.count <= maxListLength else { throw Problem(field, "takes at most \(maxListLength) values") }
            var values: [JSONValue] = []
            for part in parts { values.append(try typed(String(part))) }
            condition = op == "in" ? .inList(values) : .notInList(values)
        case "exists":
            guard text == "true" || text == "false" else { throw Problem(field, "must be true or false") }
            condition = .exists(text == "true")
        default:
            throw Problem(field, "unknown operator '\(op)' (use ne, gt, gte, lt, lte, in, nin or exists)")
        }
        return .compare(key: key, condition)
    }

    /// A field problem found while reading a filter.
    struct Problem: Error {
        var field: String
        var message: String
        init(_ field: String, _ message: String) {
            self.field = field
            self.message = message
        }
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    /// Whether PostgreSQL's `numeric` (jsonb's number type) holds `number` as written: a finite
    /// double that does not underflow to zero. `1e400` and `1e-99999` are refused, not sent.
    static func isStorable(_ number: JSONNumber) -> Bool {
        let value = number.double
        guard value.isFinite, number.text.utf8.count <= 512 else { return false }
        if value != 0 { return true }
        let mantissa = number.text.utf8.prefix { $0 != UInt8(ascii: "e") && $0 != UInt8(ascii: "E") }
        return !mantissa.contains { $0 >= UInt8(ascii: "1") && $0 <= UInt8(ascii: "9") }
    }

    /// Reads nested filter objects, counting depth and conditions.
    private struct Parser {
        var conditions = 0

        mutating func count(_ path: String) throws(Problem) {
            conditions += 1
            if conditions > MetadataFilter.maxConditions {
                throw Problem(path, "a filter holds at most \(MetadataFilter.maxConditions) conditions")
            }
        }

        mutating func object(_ object: JSONObject, depth: Int, path: String) throws(Problem) -> MetadataFilter {
            var parts: [MetadataFilter] = []
            var plain: [(String, JSONValue)] = []
            for (key, value) in object {
                let field = path + "." + key
                switch key {
                case "$and", "$or":
                    guard depth < MetadataFilter.maxDepth else {
                        throw Problem(field, "filters nest at most \(MetadataFilter.maxDepth) levels of $and/$or/$not")
                    }
                    guard case .array(let elements) = value, !elements.isEmpty else {
                        throw Problem(field, "must be a non-empty array of filter objects")
                    }
                    var branches: [MetadataFilter] = []
                    for (index, element) in elements.enumerated() {
                        guard case .object(let branch) = element else {
                            throw Problem(field + "[\(index)]", "must be a filter object")
                        }
                        branches.append(try self.object(branch, depth: depth + 1, path: field + "[\(index)]"))
                    }
                    parts.append(key == "$and" ? .all(branches) : .any(branches))
                case "$not":
                    guard depth < MetadataFilter.maxDepth else {
                        throw Problem(field, "filters nest at most \(MetadataFilter.maxDepth) levels of $and/$or/$not")
                    }
                    guard case .object(let inner) = value, !inner.isEmpty else {
                        throw Problem(field, "must be a non-empty filter object")
                    }
                    parts.append(.not(try self.object(inner, depth: depth + 1, path: field)))
                default:
                    if key.hasPrefix("$") {
                        throw Problem(field, "unknown operator '\(key)' (use $and, $or, $not or a metadata key)")
                    }
                    if case .object(let operators) = value, operators.contains(where: { $0.key.hasPrefix("$") }) {
                        for (name, operand) in operators {
                            try count(field)
                            parts.append(.compare(key: key, try readOperator(name, operand, field: field + "." + name)))
                        }
                    } else {
                        try count(field)
                        switch value {
                        case .string, .number, .bool, .null: parts.append(.compare(key: key, .equal(value)))
                        case .array, .object: plain.append((key, value))
                        }
                    }
                }
            }
            if !plain.isEmpty {
                let document = JSONValue.object(JSONObject(plain))
                parts.insert(.contains(String(decoding: document.jsonBytes, as: UTF8.self)), at: 0)
            }
            return parts.count == 1 ? parts[0] : .all(parts)
        }

        func readOperator(_ name: String, _ operand: JSONValue, field: String) throws(Problem) -> Operator {
            func scalar(_ value: JSONValue, _ field: String) throws(Problem) -> JSONValue {
                switch value {
                case .string, .bool, .null: return value
                case .number(let number):
                    guard MetadataFilter.isStorable(number) else { throw Problem(field, "the number is out of range") }
                    return value
                case .array, .object: throw Problem(field, "must be a string, number, boolean or null")
                }
            }
            func list(_ value: JSONValue) throws(Problem) -> [JSONValue] {
                guard case .array(let elements) = value, (1...MetadataFilter.maxListLength).contains(elements.count) else {
                    throw Problem(field, "must be an array of 1-\(MetadataFilter.maxListLength) values")
                }
                var values: [JSONValue] = []
                for (index, element) in elements.enumerated() { values.append(try scalar(element, field + "[\(index)]")) }
                return values
            }
            switch name {
            case "$eq": return .equal(try scalar(operand, field))
            case "$ne": return .notEqual(try scalar(operand, field))
            case "$gt", "$gte", "$lt", "$lte":
                let value = try scalar(operand, field)
                guard value.isOrderable else { throw Problem(field, "compares numbers or strings") }
                return name.hasPrefix("$g") ? .greater(value, orEqual: name == "$gte") : .less(value, orEqual: name == "$lte")
            case "$in": return .inList(try list(operand))
            case "$nin": return .notInList(try list(operand))
            case "$exists":
                guard case .bool(let flag) = operand else { throw Problem(field, "must be true or false") }
                return .exists(flag)
            default:
                throw Problem(field, "unknown operator '\(name)' (use $eq, $ne, $gt, $gte, $lt, $lte, $in, $nin or $exists)")
            }
        }
    }
}
