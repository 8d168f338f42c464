import CCrypto

/// The few libcrypto primitives the gateway needs, as Swift values.
///
/// This is the only file that imports `CCrypto`; no pointer leaves it. Every function is
/// synchronous, thread-safe (OpenSSL 3 initialises itself) and allocation-light.
public enum Crypto {
    /// The SHA-256 digest of `bytes` (32 bytes).
    public static func sha256(_ bytes: [UInt8]) -> [UInt8] {
        var digest = [UInt8](repeating: 0, count: Int(SHA256_DIGEST_LENGTH))
        bytes.withUnsafeBufferPointer { input in
            digest.withUnsafeMutableBufferPointer { output in
                _ = SHA256(input.baseAddress, input.count, output.baseAddress)
            }
        }
        return digest
    }

    /// The SHA-256 digest of the UTF-8 bytes of `string`, as 64 lowercase hex characters.
    public static func sha256Hex(_ string: String) -> String {
        hex(sha256(Array(string.utf8)))
    }

    /// The HMAC-SHA256 of `message` keyed by `key` (32 bytes): webhook signatures.
    ///
    /// One-shot `HMAC()` fails only on an allocation failure inside OpenSSL or a key longer than
    /// `Int32.max`; both are broken invariants here (keys are 32-byte secrets).
    public static func hmacSHA256(key: [UInt8], message: [UInt8]) -> [UInt8] {
        precondition(key.count <= Int(Int32.max), "Crypto.hmacSHA256: key too long")
        var digest = [UInt8](repeating: 0, count: Int(EVP_MAX_MD_SIZE))
        var length: UInt32 = 0
        let result = key.withUnsafeBufferPointer { keyBuffer in
            message.withUnsafeBufferPointer { input in
                digest.withUnsafeMutableBufferPointer { output in
                    HMAC(EVP_sha256(), keyBuffer.baseAddress, Int32(keyBuffer.count), input.baseAddress, input.count,
                         output.baseAddress, &length)
                }
            }
        }
        if result == nil { fatalError("Crypto.hmacSHA256: HMAC failed") }
        return Array(digest.prefix(Int(length)))
    }

    /// Lowercase hexadecimal text of `bytes` (two characters per byte).
    public static func hex(_ bytes: [UInt8]) -> String {
        let digits: [UInt8] = Array("0123456789abcdef".utf8)
        return String(unsafeUninitializedCapacity: bytes.count * 2) { buffer in
            var index = 0
            for byte in bytes {
                buffer[index] = digits[Int(byte >> 4)]
                buffer[index + 1] = digits[Int(byte & 0x0F)]
                index += 2
            }
            return index
        }
    }

    /// `count` bytes from OpenSSL's CSPRNG (`RAND_bytes`).
    ///
    /// `RAND_bytes` fails only when the generator cannot be seeded; there is no safe fallback for
    /// key material, so that is treated as a broken invariant and stops the process.
    public static func randomBytes(_ count: Int) -> [UInt8] {
        precondition(count >= 0, "Crypto.randomBytes: negative count \(count)")
        if count == 0 { return [] }
        var bytes = [UInt8](repeating: 0, count: count)
        let status = bytes.withUnsafeMutableBufferPointer { buffer in
            RAND_bytes(buffer.baseAddress, Int32(buffer.count))
        }
        if status != 1 {
            fatalError("Crypto.randomBytes: RAND_bytes failed (status \(status)); the CSPRNG is unusable")
        }
        return bytes
    }

    /// Whether `a` and `b` hold the same bytes, in time that depends only on their lengths.
    ///
    /// Different lengths return `false`; in that case `a` is still compared against itself so the
    /// time spent does not reveal where the contents would have differed. Lengths are not secret
    /// here (hashes and tokens have public lengths).
    public static func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        let sameLength = a.count == b.count
        let other = sameLength ? b : a
        let differs = a.withUnsafeBytes { left in
            other.withUnsafeBytes { right in
                CRYPTO_memcmp(left.baseAddress, right.baseAddress, left.count)
            }
        }
        return sameLength && differs == 0
    }
}
