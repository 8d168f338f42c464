/// The one escaper of `key=value` log values, for the access log and the gateway's own log lines.
public enum LogValue {
    /// A log value, quoted when it holds spaces, quotes, `=` or control characters (or is empty).
    public static func append(_ value: String, to out: inout [UInt8]) {
        let utf8 = value.utf8
        let needsQuotes = utf8.isEmpty || utf8.contains { $0 <= 0x20 || $0 == 0x22 || $0 == 0x3D || $0 == 0x5C || $0 == 0x7F }
        guard needsQuotes else {
            out.append(contentsOf: utf8)
            return
        }
        out.append(0x22)
        for byte in utf8 {
            switch byte {
            case 0x22, 0x5C:
                out.append(0x5C)
                out.append(byte)
            case 0x0A:
                out.append(0x5C)
                out.append(UInt8(ascii: "n"))
            case 0x0D:
                out.append(0x5C)
                out.append(UInt8(ascii: "r"))
            case 0..<0x20, 0x7F:
                out.append(UInt8(ascii: "?"))
            default:
                out.append(byte)
            }
        }
        out.append(0x22)
    }

    /// `value` as it appears in a log line.
    public static func quoted(_ value: String) -> String {
        var out: [UInt8] = []
        append(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }
}
