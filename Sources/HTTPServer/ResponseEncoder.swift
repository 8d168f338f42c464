#if canImport(Glibc)
import Glibc
#endif

/// Serialises responses and access-log lines into byte buffers. One per loop (it caches the
/// `Date` header and the log timestamp per second, and status lines).
struct ResponseEncoder {
    private var second = -1
    private var dateLine: [UInt8] = []
    private var logTime: [UInt8] = []
    private var statusLines: [Int: [UInt8]] = [:]

    /// Refreshes the cached times if the wall-clock second changed.
    mutating func updateClock() {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME_COARSE, &spec)
        let now = Int(spec.tv_sec)
        guard now != second else { return }
        second = now
        var t = time_t(now)
        var parts = tm()
        gmtime_r(&t, &parts)
        let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let year = Int(parts.tm_year) + 1900
        dateLine = Array(
            "Date: \(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(year) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT\r\n"
                .utf8)
        logTime = Array(
            "\(year)-\(two(parts.tm_mon + 1))-\(two(parts.tm_mday))T\(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec))Z"
                .utf8)
    }

    /// How the response ends the exchange.
    enum Delimiting {
        case contentLength(Int)
        case chunked
        /// HTTP/1.0 streaming: the body ends when the connection closes.
        case close
        /// 1xx, 204, 304: no body, no length.
        case none
    }

    /// Appends the status line and headers. The handler's `Content-Length`, `Transfer-Encoding`
    /// and `Connection` are replaced by the server's own; other fields are kept as given.
    mutating func appendHead(
        to out: inout [UInt8], status: Int, headers: HTTPHeaders, requestID: String, delimiting: Delimiting,
        isClosing: Bool, isHTTP10KeepAlive: Bool
    ) {
        out.append(contentsOf: statusLine(status))
        var hasRequestID = false
        for field in headers.fields {
            let name = field.name.utf8
            switch name.count {
            case 10 where Self.isNamed(name, "connection"), 14 where Self.isNamed(name, "content-length"),
                17 where Self.isNamed(name, "transfer-encoding"), 4 where Self.isNamed(name, "date"):
                continue
            case 12 where Self.isNamed(name, "x-request-id"):
                hasRequestID = true
            default:
                break
            }
            out.append(contentsOf: name)
            out.append(UInt8(ascii: ":"))
            out.append(UInt8(ascii: " "))
            Self.appendSanitised(field.value, to: &out)
            out.append(.cr)
            out.append(.lf)
        }
        if !hasRequestID {
            out.append(contentsOf: Self.requestIDPrefix)
            out.append(contentsOf: requestID.utf8)
            out.append(.cr)
            out.append(.lf)
        }
        out.append(contentsOf: dateLine)
        switch delimiting {
        case .contentLength(let length):
            out.append(contentsOf: Self.contentLengthPrefix)
            Self.appendDecimal(length, to: &out)
            out.append(.cr)
            out.append(.lf)
        case .chunked:
            out.append(contentsOf: Self.chunkedLine)
        case .close, .none:
            break
        }
        if isClosing {
            out.append(contentsOf: Self.closeLine)
        } else if isHTTP10KeepAlive {
            out.append(contentsOf: Self.keepAliveLine)
        }
        out.append(.cr)
        out.append(.lf)
    }

    /// Appends one access-log line.
    func appendLogLine(
        to out: inout [UInt8], requestID: String, method: String, path: String, status: Int, bytes: Int,
        durationNanoseconds: Int64, fields: [(key: String, value: String)]
    ) {
        out.append(contentsOf: Self.timeKey)
        out.append(contentsOf: logTime)
        out.append(contentsOf: Self.requestIDKey)
        Self.appendLogValue(requestID, to: &out)
        out.append(contentsOf: Self.methodKey)
        Self.appendLogValue(method, to: &out)
        out.append(contentsOf: Self.pathKey)
        Self.appendLogValue(path, to: &out)
        out.append(contentsOf: Self.statusKey)
        Self.appendDecimal(status, to: &out)
        out.append(contentsOf: Self.bytesKey)
        Self.appendDecimal(bytes, to: &out)
        out.append(contentsOf: Self.durationKey)
        let hundredths = Int(max(0, durationNanoseconds) / 10_000)
        Self.appendDecimal(hundredths / 100, to: &out)
        out.append(UInt8(ascii: "."))
        let fraction = hundredths % 100
        if fraction < 10 { out.append(UInt8(ascii: "0")) }
        Self.appendDecimal(fraction, to: &out)
        for field in fields {
            out.append(UInt8(ascii: " "))
            Self.appendLogValue(field.key, to: &out)
            out.append(UInt8(ascii: "="))
            Self.appendLogValue(field.value, to: &out)
        }
        out.append(.lf)
    }

    private mutating func statusLine(_ status: Int) -> [UInt8] {
        if let line = statusLines[status] { return line }
        let line = Array("HTTP/1.1 \(status) \(Self.reasonPhrase(status))\r\n".utf8)
        if statusLines.count < 128 { statusLines[status] = line }
        return line
    }

    /// Header values must not break the head: CR, LF and NUL become spaces.
    private static func appendSanitised(_ value: String, to out: inout [UInt8]) {
        for byte in value.utf8 {
            out.append(byte == .cr || byte == .lf || byte == 0 ? .space : byte)
        }
    }

    private static func appendLogValue(_ value: String, to out: inout [UInt8]) {
        LogValue.append(value, to: &out)
    }

    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        if value < 10 && value >= 0 {
            out.append(UInt8(ascii: "0") + UInt8(value))
            return
        }
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8,
                     UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) =
            (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        var n = value.magnitude
        var count = 0
        withUnsafeMutableBytes(of: &digits) { buffer in
            repeat {
                buffer[19 - count] = UInt8(ascii: "0") + UInt8(n % 10)
                n /= 10
                count += 1
            } while n > 0
            if value < 0 { out.append(UInt8(ascii: "-")) }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: buffer[(20 - count)...]))
        }
    }

    static func appendHex(_ value: Int, to out: inout [UInt8]) {
        let hex: StaticString = "0123456789abcdef"
        var shift = 60
        while shift > 0 && (value >> shift) & 0xF == 0 { shift -= 4 }
        while shift >= 0 {
            out.append(hex.utf8Start[(value >> shift) & 0xF])
            shift -= 4
        }
    }

    private static func isNamed(_ name: String.UTF8View, _ lowercase: StaticString) -> Bool {
        var i = 0
        let literal = lowercase.utf8Start
        for byte in name {
            if byte | 0x20 != literal[i] { return false }
            i += 1
        }
        return true
    }

    static let continueResponse: [UInt8] = Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)
    private static let requestIDPrefix: [UInt8] = Array("X-Request-ID: ".utf8)
    private static let contentLengthPrefix: [UInt8] = Array("Content-Length: ".utf8)
    private static let chunkedLine: [UInt8] = Array("Transfer-Encoding: chunked\r\n".utf8)
    private static let closeLine: [UInt8] = Array("Connection: close\r\n".utf8)
    private static let keepAliveLine: [UInt8] = Array("Connection: keep-alive\r\n".utf8)
    private static let timeKey: [UInt8] = Array("time=".utf8)
    private static let requestIDKey: [UInt8] = Array(" request_id=".utf8)
    private static let methodKey: [UInt8] = Array(" method=".utf8)
    private static let pathKey: [UInt8] = Array(" path=".utf8)
    private static let statusKey: [UInt8] = Array(" status=".utf8)
    private static let bytesKey: [UInt8] = Array(" bytes=".utf8)
    private static let durationKey: [UInt8] = Array(" duration_ms=".utf8)

    static func reasonPhrase(_ status: Int) -> String {
        switch status {
        case 100: "Continue"
        case 200: "OK"
        case 201: "Created"
        case 202: "Accepted"
        case 204: "No Content"
        case 301: "Moved Permanently"
        case 302: "Found"
        case 304: "Not Modified"
        case 400: "Bad Request"
        case 401: "Unauthorized"
        case 403: "Forbidden"
        case 404: "Not Found"
        case 405: "Method Not Allowed"
        case 408: "Request Timeout"
        case 409: "Conflict"
        case 410: "Gone"
        case 411: "Length Required"
        case 412: "Precondition Failed"
        case 413: "Content Too Large"
        case 414: "URI Too Long"
        case 415: "Unsupported Media Type"
        case 422: "Unprocessable Content"
        case 429: "Too Many Requests"
        case 431: "Request Header Fields Too Large"
        case 500: "Internal Server Error"
        case 501: "Not Implemented"
        case 502: "Bad Gateway"
        case 503: "Service Unavailable"
        case 504: "Gateway Timeout"
        case 505: "HTTP Version Not Supported"
        default: "Status"
        }
    }
}
