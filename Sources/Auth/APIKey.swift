/// Which of a tenant's two worlds a key sees: `live` data (billed) or `test` data (never billed).
public enum KeyEnvironment: String, Sendable, CaseIterable {
    case live
    case test

    /// The key prefix for this environment: `mem_live_` or `mem_test_`.
    public var keyPrefix: String { "mem_" + rawValue + "_" }
}

/// A syntactically valid API key: `mem_live_` or `mem_test_` followed by base62 characters.
///
/// Holding one proves only the format; whether the key exists, is revoked or expired is the
/// store's business (look it up by ``hash``). `description` never shows the secret, so a value
/// that slips into a log line leaks at most the 12-character ``prefix``.
public struct APIKeyMaterial: Sendable, Equatable, CustomStringConvertible {
    /// How many random base62 characters a generated key carries (about 238 bits).
    public static let generatedSecretLength = 40
    /// The fewest base62 characters after the environment prefix that ``parse(_:)`` accepts.
    public static let minimumSecretLength = 32
    /// The most characters a key may have in total.
    public static let maximumLength = 128
    /// How many leading characters form the public ``prefix(_:)`` shown in lists and logs.
    public static let displayPrefixLength = 12

    /// The environment named by the key's prefix.
    public let environment: KeyEnvironment
    /// The whole key, secret included. Never log it.
    public let key: String

    private init(environment: KeyEnvironment, key: String) {
        self.environment = environment
        self.key = key
    }

    /// The first 12 characters (`mem_live_AbC`), safe to show and log.
    public var prefix: String { Self.prefix(key) }

    /// SHA-256 of the key's UTF-8 bytes: what the store keeps and looks keys up by.
    public var hash: [UInt8] { Self.hash(key) }

    /// The display prefix followed by an ellipsis; never the secret.
    public var description: String { prefix + "…" }

    /// A new random key for `environment`: its prefix then 40 base62 characters.
    public static func generate(environment: KeyEnvironment) -> String {
        environment.keyPrefix + Base62.random(count: generatedSecretLength)
    }

    /// Checks the exact format: `mem_live_` or `mem_test_`, then at least 32 base62 characters,
    /// at most 128 characters in all. Anything else (spaces, other characters, wrong case of the
    /// prefix, too short or long) is `nil`.
    public static func parse(_ text: String) -> APIKeyMaterial? {
        let bytes = text.utf8
        guard bytes.count <= maximumLength else { return nil }
        for environment in KeyEnvironment.allCases {
            let prefix = environment.keyPrefix.utf8
            guard bytes.starts(with: prefix) else { continue }
            let secret = bytes.dropFirst(prefix.count)
            guard secret.count >= minimumSecretLength, secret.allSatisfy(Base62.isBase62) else { return nil }
            return APIKeyMaterial(environment: environment, key: text)
        }
        return nil
    }

    /// SHA-256 of `key`'s UTF-8 bytes (32 bytes).
    public static func hash(_ key: String) -> [UInt8] {
        Crypto.sha256(Array(key.utf8))
    }

    /// The first 12 characters of `key` (all of it when shorter).
    public static func prefix(_ key: String) -> String {
        String(key.prefix(displayPrefixLength))
    }
}
