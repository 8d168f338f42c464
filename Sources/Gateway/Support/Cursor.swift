import Auth
import Foundation

/// Opaque page cursors: a position plus a tag that binds it to the tenant and environment that
/// made it, so another tenant's cursor does not decode. (Every query is filtered by the caller's
/// tenant anyway; the tag only turns a foreign or damaged cursor into a clear 400.)
enum Cursor {
    static func encode(_ fields: [String], orgID: String, env: String) -> String {
        let payload = fields.joined(separator: "\u{1F}")
        let tag = hexString(Array(Crypto.sha256(Array("\(orgID)\u{1F}\(env)\u{1F}\(payload)".utf8)).prefix(8)))
        let raw = Array((payload + "\u{1E}" + tag).utf8)
        return Data(raw).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func decode(_ cursor: String, orgID: String, env: String) -> [String]? {
        guard cursor.count <= 1024 else { return nil }
        var base64 = cursor.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while base64.count % 4 != 0 { base64 += "=" }
        guard let data = Data(base64Encoded: base64), let text = String(data: data, encoding: .utf8) else { return nil }
        let parts = text.split(separator: "\u{1E}", omittingEmptySubsequences: false)
        guard parts.count == 2 else { return nil }
        let payload = String(parts[0])
        let tag = hexString(Array(Crypto.sha256(Array("\(orgID)\u{1F}\(env)\u{1F}\(payload)".utf8)).prefix(8)))
        guard tag == parts[1] else { return nil }
        return payload.split(separator: "\u{1F}", omittingEmptySubsequences: false).map(String.init)
    }
}
