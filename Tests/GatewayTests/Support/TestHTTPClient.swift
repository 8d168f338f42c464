import Foundation
@testable import Gateway
#if canImport(Glibc)
import Glibc
#endif

/// A parsed HTTP response, for tests.
struct TestResponse: Sendable {
    var status: Int
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    var text: String { String(decoding: body, as: UTF8.self) }

    /// The body as JSON (nil when it is not JSON).
    var json: JSONValue? { try? JSONParser.parse(body) }

    /// `data` of a success envelope.
    var data: JSONValue? { json?["data"] }

    /// `error.code` of an error envelope.
    var errorCode: String? { json?["error"]?["code"]?.stringValue }
}

/// A blocking HTTP/1.1 client over a real TCP socket: one keep-alive connection, reopened when
/// the server closes it. Also sends raw bytes for abuse tests.
final class TestHTTPClient: @unchecked Sendable {
    let port: Int
    private var fd: Int32 = -1
    private var buffer: [UInt8] = []

    init(port: Int) {
        self.port = port
    }

    deinit {
        close()
    }

    func close() {
        if fd >= 0 { Glibc.close(fd) }
        fd = -1
        buffer = []
    }

    private func connect() throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestClientError.io("socket") }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard result == 0 else {
            close()
            throw TestClientError.io("connect")
        }
    }

    /// Sends a request and reads its response. `headers` are added as given.
    func request(_ method: String, _ target: String, headers: [(String, String)] = [], body: [UInt8]? = nil) throws -> TestResponse {
        var head = "\(method) \(target) HTTP/1.1\r\nHost: localhost\r\n"
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        if let body { head += "Content-Length: \(body.count)\r\n" }
        head += "\r\n"
        var bytes = Array(head.utf8)
        if let body { bytes += body }
        for attempt in 0..<2 {
            if fd < 0 { try connect() }
            do {
                try sendAll(bytes)
                return try readResponse(isHead: method == "HEAD")
            } catch TestClientError.closed where attempt == 0 {
                close()  // the server closed an idle keep-alive connection: reopen once
            }
        }
        throw TestClientError.closed
    }

    /// JSON convenience: `key` as Bearer, `json` as body.
    func call(_ method: String, _ target: String, key: String? = nil, json: JSONValue? = nil,
              headers: [(String, String)] = []) throws -> TestResponse {
        var all = headers
        if let key { all.append(("Authorization", "Bearer \(key)")) }
        var body: [UInt8]?
        if let json {
            all.append(("Content-Type", "application/json"))
            body = json.jsonBytes
        }
        return try request(method, target, headers: all, body: body)
    }

    /// Writes raw bytes on a fresh connection and reads one response (or nil if the server
    /// closed without answering).
    func raw(_ bytes: [UInt8]) throws -> TestResponse? {
        close()
        try connect()
        try sendAll(bytes)
        do {
            return try readResponse(isHead: false)
        } catch TestClientError.closed {
            return nil
        }
    }

    func sendAll(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw TestClientError.closed }
            offset += sent
        }
    }

    private func fill() throws {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard count > 0 else { throw TestClientError.closed }
        buffer += chunk[0..<count]
    }

    private func readLine() throws -> String {
        while true {
            if let index = buffer.firstIndex(of: 10) {
                var line = Array(buffer[..<index])
                buffer.removeFirst(index + 1)
                if line.last == 13 { line.removeLast() }
                return String(decoding: line, as: UTF8.self)
            }
            try fill()
        }
    }

    func readResponse(isHead: Bool) throws -> TestResponse {
        var statusLine = try readLine()
        var status = Int(statusLine.split(separator: " ").dropFirst().first ?? "") ?? 0
        var headers: [(name: String, value: String)] = []
        while true {
            while true {
                let line = try readLine()
                if line.isEmpty { break }
                if let colon = line.firstIndex(of: ":") {
                    headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
                }
            }
            guard status == 100 else { break }
            headers = []
            statusLine = try readLine()
            status = Int(statusLine.split(separator: " ").dropFirst().first ?? "") ?? 0
        }
        let response = TestResponse(status: status, headers: headers, body: [])
        var body: [UInt8] = []
        if isHead || status == 204 || status == 304 {
            // no body
        } else if response.header("Transfer-Encoding")?.lowercased().contains("chunked") == true {
            while true {
                let sizeLine = try readLine()
                let size = Int(sizeLine.split(separator: ";").first ?? "", radix: 16) ?? 0
                if size == 0 {
                    while try !readLine().isEmpty {}
                    break
                }
                while buffer.count < size + 2 { try fill() }
                body += buffer[0..<size]
                buffer.removeFirst(size + 2)
            }
        } else if let length = response.header("Content-Length").flatMap({ Int($0) }) {
            while buffer.count < length { try fill() }
            body = Array(buffer[0..<length])
            buffer.removeFirst(length)
        } else {
            while (try? fill()) != nil {}
            body = buffer
            buffer = []
        }
        if response.header("Connection")?.lowercased() == "close" { close() }
        return TestResponse(status: status, headers: headers, body: body)
    }
}

enum TestClientError: Error {
    case io(String)
    case closed
}
