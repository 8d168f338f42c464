import Synchronization

/// Request ids: generation of `req_…` ids and validation of incoming `X-Request-ID` values.
public enum RequestID {
    private static let alphabet: [UInt8] = Array("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".utf8)
    private static let counter = Atomic<UInt64>(0)
    /// Per-process random keys for the keyed mix of the counter.
    private static let keys: (UInt64, UInt64, UInt64) = {
        var generator = SystemRandomNumberGenerator()
        return (generator.next(), generator.next(), generator.next())
    }()

    /// A new id: `req_` and 24 base62 characters that all look random. Unique within the process
    /// (the first 11 characters are a keyed bijection of a counter) and, with per-process random
    /// keys, across processes with high probability; not predictable from earlier ids without the
    /// keys. Costs no system call.
    public static func generate() -> String {
        let n = counter.wrappingAdd(1, ordering: .relaxed).newValue
        let keys = self.keys
        var a = mix(n ^ keys.0)
        var b = mix(a ^ keys.1)
        var c = mix(b ^ keys.2)
        return String(unsafeUninitializedCapacity: 28) { buffer in
            buffer[0] = UInt8(ascii: "r"); buffer[1] = UInt8(ascii: "e"); buffer[2] = UInt8(ascii: "q")
            buffer[3] = UInt8(ascii: "_")
            // 11 base62 digits hold all of 64 bits (62^11 > 2^64), keeping the bijection.
            for i in 0..<11 {
                buffer[4 + i] = alphabet[Int(a % 62)]
                a /= 62
            }
            for i in 0..<11 {
                buffer[15 + i] = alphabet[Int(b % 62)]
                b /= 62
            }
            for i in 0..<2 {
                buffer[26 + i] = alphabet[Int(c % 62)]
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
