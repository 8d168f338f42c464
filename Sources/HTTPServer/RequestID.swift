import Synchronization

/// Request ids: generation of `req_…` ids and validation of incoming `X-Request-ID` values.
public enum RequestID {
    private static let alphabet: [UInt8] = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
    private static let counter = Atomic<UInt64>(0)
    /// Per-process random material: an 8-character prefix and the key that scrambles the counter.
    private static let secret: (prefix: [UInt8], key1: UInt64, key2: UInt64) = {
        var generator = SystemRandomNumberGenerator()
        var prefix: [UInt8] = []
        for _ in 0..<8 { prefix.append(alphabet[Int(generator.next(upperBound: UInt64(62)))]) }
        return (prefix, generator.next(), generator.next())
    }()

    /// A new id: `req_` and 24 base62 characters. Unique within the process (a keyed bijection of a
    /// counter) and across processes with high probability (a random prefix); not predictable from
    /// earlier ids without the process key.
    public static func generate() -> String {
        let n = counter.wrappingAdd(1, ordering: .relaxed).newValue
        let secret = self.secret
        // A keyed bijection of the 64-bit counter: unique ids, scrambled order.
        var a = mix(n ^ secret.key1)
        let b = mix(a ^ secret.key2)
        return String(unsafeUninitializedCapacity: 28) { buffer in
            buffer[0] = UInt8(ascii: "r"); buffer[1] = UInt8(ascii: "e"); buffer[2] = UInt8(ascii: "q")
            buffer[3] = UInt8(ascii: "_")
            for i in 0..<8 { buffer[4 + i] = secret.prefix[i] }
            // 11 base62 digits hold all of 64 bits (62^11 > 2^64), keeping the bijection.
            for i in 0..<11 {
                buffer[12 + i] = alphabet[Int(a % 62)]
                a /= 62
            }
            var c = b
            for i in 0..<5 {
                buffer[23 + i] = alphabet[Int(c % 62)]
                c /= 62
            }
            return 28
        }
    }

    /// Whether an incoming `X-Request-ID` is kept: 1–128 characters of `[A-Za-z0-9._-]`.
    public static func isValidIncoming(_ s: String) -> Bool {
        var count = 0
        for byte in s.utf8 {
            count += 1
            if count > 128 { return false }
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
                UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
                continue
            default:
                return false
            }
        }
        return count > 0
    }

    /// SplitMix64's finaliser: a bijection of UInt64.
    private static func mix(_ value: UInt64) -> UInt64 {
        var z = value &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
