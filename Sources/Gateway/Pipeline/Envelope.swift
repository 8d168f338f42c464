/// The contract's JSON envelopes, written straight to bytes.
enum Envelope {
    /// `{"success":true,"data":…,"meta":{"request_id":…,"processing_time_ms":…}}`
    static func success(data: [UInt8], requestID: String, processingMilliseconds: Int) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(data.count + 96)
        out.append(contentsOf: #"{"success":true,"data":"#.utf8)
        out.append(contentsOf: data)
        out.append(contentsOf: #","meta":{"request_id":"#.utf8)
        JSONWriter.appendString(requestID, into: &out)
        out.append(contentsOf: #","processing_time_ms":"#.utf8)
        out.append(contentsOf: String(processingMilliseconds).utf8)
        out.append(contentsOf: "}}".utf8)
        return out
    }

    /// `{"success":false,"error":{"code","message","details"?,"retry_after"?},"meta":{"request_id"}}`
    static func error(_ error: APIError, requestID: String) -> [UInt8] {
        var fields: [(String, JSONValue)] = [
            ("code", .string(error.code)),
            ("message", .string(error.message)),
        ]
        if !error.details.isEmpty {
            fields.append(("details", .array(error.details.map { .object(JSONObject([("field", .string($0.field)), ("message", .string($0.message))])) })))
        }
        if let retryAfter = error.retryAfter {
            fields.append(("retry_after", .number(JSONNumber(retryAfter))))
        } else if error.retryAfterIsNull {
            fields.append(("retry_after", .null))
        }
        let body: JSONValue = .object(JSONObject([
            ("success", .bool(false)),
            ("error", .object(JSONObject(fields))),
            ("meta", .object(JSONObject([("request_id", .string(requestID))]))),
        ]))
        return body.jsonBytes
    }
}
