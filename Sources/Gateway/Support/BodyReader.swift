/// Reads typed fields of a JSON object body, collecting every problem so one 400 lists them all.
/// `null` counts as absent for optional fields.
struct BodyReader {
    let object: JSONObject
    var issues = Issues()

    init(_ object: JSONObject) {
        self.object = object
    }

    func has(_ name: String) -> Bool {
        if let value = object[name], value != .null { return true }
        return false
    }

    /// True when the field is present with an explicit `null`.
    func isExplicitNull(_ name: String) -> Bool {
        object[name] == .null
    }

    /// A string of `length` Unicode scalars, without U+0000 (PostgreSQL text cannot hold it).
    mutating func string(_ name: String, required: Bool = false, length: ClosedRange<Int>) -> String? {
        guard let value = object[name], value != .null else {
            if required { issues.add(name, "is required") }
            return nil
        }
        guard case .string(let text) = value else {
            issues.add(name, "must be a string")
            return nil
        }
        let count = text.unicodeScalars.count
        guard length.contains(count) else {
            issues.add(name, "must be \(length.lowerBound)-\(length.upperBound) characters (got \(count))")
            return nil
        }
        guard !text.unicodeScalars.contains("\u{0}") else {
            issues.add(name, "must not contain U+0000")
            return nil
        }
        return text
    }

    /// A string matching an identifier pattern `[A-Za-z0-9_-]{1,max}`.
    mutating func identifier(_ name: String, maxLength: Int, required: Bool = false) -> String? {
        guard let text = string(name, required: required, length: 0...100_000) else { return nil }
        guard Identifiers.isValid(text, maxLength: maxLength) else {
            issues.add(name, "must match [A-Za-z0-9_-]{1,\(maxLength)}")
            return nil
        }
        return text
    }

    mutating func integer(_ name: String, range: ClosedRange<Int>, required: Bool = false) -> Int? {
        guard let value = object[name], value != .null else {
            if required { issues.add(name, "is required") }
            return nil
        }
        guard let number = value.intValue, range.contains(number) else {
            issues.add(name, "must be an integer in \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return number
    }

    mutating func number(_ name: String, range: ClosedRange<Double>) -> Double? {
        guard let value = object[name], value != .null else { return nil }
        guard case .number = value, let number = value.doubleValue, range.contains(number) else {
            issues.add(name, "must be a number in \(range.lowerBound)...\(range.upperBound)")
            return nil
        }
        return number
    }

    mutating func bool(_ name: String) -> Bool? {
        guard let value = object[name], value != .null else { return nil }
        guard case .bool(let flag) = value else {
            issues.add(name, "must be true or false")
            return nil
        }
        return flag
    }

    mutating func stringArray(_ name: String, required: Bool = false) -> [String]? {
        guard let value = object[name], value != .null else {
            if required { issues.add(name, "is required") }
            return nil
        }
        guard case .array(let items) = value else {
            issues.add(name, "must be an array of strings")
            return nil
        }
        var result: [String] = []
        for item in items {
            guard case .string(let text) = item else {
                issues.add(name, "must be an array of strings")
                return nil
            }
            result.append(text)
        }
        return result
    }

    /// An RFC 3339 timestamp, returned in UTC with its fraction kept to the microsecond, for
    /// PostgreSQL to parse exactly (`UTCDate.canonicalTimestamp`).
    mutating func timestamp(_ name: String) -> String? {
        guard let text = string(name, length: 1...64) else { return nil }
        guard let canonical = UTCDate.canonicalTimestamp(text) else {
            issues.add(name, "must be an RFC 3339 date-time such as 2026-11-24T10:30:00Z (years 0001-9999)")
            return nil
        }
        return canonical
    }

    /// `metadata`: an object of ≤ 64 keys whose compact JSON is ≤ 16 KiB, values
    /// string/number/bool/null or arrays of them.
    mutating func metadata(_ name: String = "metadata") -> JSONObject? {
        guard let value = object[name], value != .null else { return nil }
        if let problem = Metadata.problem(value) {
            issues.add(name, problem)
            return nil
        }
        guard case .object(let metadata) = value else { return nil }
        return metadata
    }
}

/// Validation of ids chosen by callers.
enum Identifiers {
    static func isValid(_ text: String, maxLength: Int) -> Bool {
        let bytes = text.utf8
        guard !bytes.isEmpty, bytes.count <= maxLength else { return false }
        return bytes.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == 0x5F || byte == 0x2D
        }
    }
}

/// The contract's metadata rules.
enum Metadata {
    static let maxBytes = 16 * 1024
    static let maxKeys = 64

    /// Why `value` is not valid metadata, or nil when it is.
    static func problem(_ value: JSONValue) -> String? {
        guard case .object(let object) = value else { return "must be an object" }
        if value.containsNUL { return "must not contain U+0000" }
        guard object.count <= maxKeys else { return "must have at most \(maxKeys) keys" }
        for (key, item) in object {
            switch item {
            case .string, .number, .bool, .null:
                continue
            case .array(let elements):
                for element in elements {
                    switch element {
                    case .string, .number, .bool, .null: continue
                    default: return "values must be strings, numbers, booleans, null or arrays of them (key '\(key)')"
                    }
                }
            default:
                return "values must be strings, numbers, booleans, null or arrays of them (key '\(key)')"
            }
        }
        // Sized as stored: jsonb writes numbers out in full (`1e300` is 301 digits).
        guard value.jsonBytes.count + expansion(of: object) <= maxBytes else {
            return "must be at most 16 KiB as compact JSON, numbers counted written out in full (as stored)"
        }
        return nil
    }

    /// Whether some number anywhere in `value` could not be metadata (not a finite double, or
    /// longer than ``maxBytes`` written out in full): no memory can match it, and PostgreSQL may
    /// refuse to read it as jsonb at all.
    static func containsUnstorableNumber(_ value: JSONValue) -> Bool {
        switch value {
        case .number(let number):
            let alone = JSONObject([("n", value)])
            return number.text.utf8.count + expansion(of: alone) > maxBytes
        case .array(let elements):
            return elements.contains { containsUnstorableNumber($0) }
        case .object(let object):
            return object.contains { containsUnstorableNumber($0.value) }
        case .null, .bool, .string:
            return false
        }
    }

    /// How many bytes longer than written the numbers of `object` become in jsonb, or a number
    /// larger than any limit when one is not a finite double (the caller refuses it).
    ///
    /// Total on any input: the exponent is read saturating at ``maxBytes`` + 1 (a larger one
    /// expands past the limit anyway), so `0e9223372036854775807` or an exponent of a thousand
    /// digits cannot overflow; the sum saturates too.
    static func expansion(of object: JSONObject) -> Int {
        let ceiling = maxBytes + 1
        var extra = 0
        func add(_ value: JSONValue) {
            guard case .number(let number) = value, extra < ceiling else { return }
            guard number.double.isFinite else {
                extra = ceiling
                return
            }
            let text = Array(number.text.utf8)
            guard let e = text.firstIndex(where: { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) else { return }
            var magnitude = 0
            for byte in text[(e + 1)...] where byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") {
                magnitude = min(ceiling, magnitude * 10 + Int(byte - UInt8(ascii: "0")))
            }
            // At most: every mantissa digit, |exponent| zeros, a sign and a point. All terms are
            // at most a few times `ceiling`, far from overflow.
            extra = min(ceiling, extra + max(0, (e + magnitude + 2) - text.count))
        }
        for (_, item) in object {
            if case .array(let elements) = item { elements.forEach(add) } else { add(item) }
        }
        return extra
    }
}

extension JSONValue {
    /// Whether a string or an object key anywhere inside holds U+0000, which PostgreSQL's text and
    /// jsonb cannot store.
    var containsNUL: Bool {
        switch self {
        case .string(let text): text.unicodeScalars.contains("\u{0}")
        case .array(let elements): elements.contains { $0.containsNUL }
        case .object(let object): object.contains { $0.key.unicodeScalars.contains("\u{0}") || $0.value.containsNUL }
        case .null, .bool, .number: false
        }
    }
}
