import Auth
import Foundation

/// Standard Webhooks signing: `whsec_` secrets and `v1,<base64 HMAC-SHA256>` signatures over
/// `"<webhook-id>.<webhook-timestamp>.<body>"`, keyed by the secret's decoded bytes.
enum WebhookSignature {
    static let secretPrefix = "whsec_"
    /// Bytes of key material in a new secret.
    static let secretByteCount = 32

    /// A new secret: `whsec_` and the base64 of 32 bytes from the CSPRNG.
    static func makeSecret() -> String {
        secretPrefix + Data(Crypto.randomBytes(secretByteCount)).base64EncodedString()
    }

    /// The key bytes of a `whsec_…` secret (the prefix is optional, as receivers accept both); nil
    /// when the rest is not base64.
    static func key(of secret: String) -> [UInt8]? {
        let encoded = secret.hasPrefix(secretPrefix) ? String(secret.dropFirst(secretPrefix.count)) : secret
        guard let data = Data(base64Encoded: encoded), !data.isEmpty else { return nil }
        return Array(data)
    }

    /// The `webhook-signature` header value for one attempt.
    static func sign(key: [UInt8], id: String, timestamp: Int64, body: [UInt8]) -> String {
        let message = Array("\(id).\(timestamp).".utf8) + body
        return "v1," + Data(Crypto.hmacSHA256(key: key, message: message)).base64EncodedString()
    }
}
