/// Random base62 text (`0-9A-Za-z`) from the CSPRNG, without modulo bias.
///
/// Each random byte below 248 (= 4 × 62) maps to `byte % 62`, which is uniform; bytes 248–255
/// are rejected and replaced, so every character carries log2(62) ≈ 5.95 bits of entropy.
public enum Base62 {
    /// The 62 characters, digits first, then upper case, then lower case.
    public static let alphabet: [UInt8] = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)

    /// Largest multiple of 62 that fits in a byte; bytes at or above it are rejected.
    private static let rejectionBound: UInt8 = 248

    /// `count` uniformly random base62 characters.
    public static func random(count: Int) -> String {
        precondition(count >= 0, "Base62.random: negative count \(count)")
        var output: [UInt8] = []
        output.reserveCapacity(count)
        while output.count < count {
            // Ask for a little more than needed: about 3% of bytes are rejected.
            let missing = count - output.count
            for byte in Crypto.randomBytes(missing + missing / 16 + 4) where byte < rejectionBound {
                output.append(alphabet[Int(byte % 62)])
                if output.count == count { break }
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Whether `byte` is one of the 62 characters.
    @inlinable
    public static func isBase62(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "a")...UInt8(ascii: "z"):
            return true
        default:
            return false
        }
    }
}

/// Random public identifiers: a type prefix, an underscore, then base62 characters.
///
/// Conventions used by the gateway: memories `mem_`, spaces `spc_`, API keys `key_`, tenants
/// `org_`, requests `req_`. With the default 20 characters an id carries about 119 random bits,
/// so collisions are not a practical concern (the database still enforces uniqueness).
public enum Identifier {
    /// `prefix` + `_` + `length` random base62 characters, e.g. `make(prefix: "mem")` → `mem_4fZ…`.
    ///
    /// - Parameters:
    ///   - prefix: the type tag without the underscore (`"mem"`, `"spc"`, `"key"`, `"org"`).
    ///   - length: how many random characters follow the underscore.
    public static func make(prefix: String, length: Int = 20) -> String {
        prefix + "_" + Base62.random(count: length)
    }
}
