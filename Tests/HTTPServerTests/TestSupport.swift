import Foundation
import Synchronization
import Testing

@testable import HTTPServer

#if canImport(Glibc)
import Glibc
#endif

/// Feeds `input` to a parser in pieces (as a connection would) and collects what it produced.
enum ParseOutcome: Equatable {
    case request(method: String, target: String, body: [UInt8])
    case error(Int)
}

func parseAll(_ input: [UInt8], pieces: [Int]? = nil, limits: HTTPParser.Limits = testLimits()) -> [ParseOutcome] {
    var parser = HTTPParser(limits: limits)
    var buffer: [UInt8] = []
    var outcomes: [ParseOutcome] = []
    var head: HTTPRequestHead?
    var offset = 0
    var cuts = pieces ?? [input.count]
    if cuts.reduce(0, +) < input.count { cuts.append(input.count - cuts.reduce(0, +)) }
    for cut in cuts {
        let end = min(input.count, offset + cut)
        buffer.append(contentsOf: input[offset..<end])
        offset = end
        loop: while true {
            let (consumed, result) = buffer.withUnsafeBufferPointer { parser.parse($0) }
            buffer.removeFirst(consumed)
            switch result {
            case .needMore:
                if buffer.isEmpty && !parser.isReadingBody { break loop }
                break loop
            case .head(let h):
                if h.framing == .none {
                    outcomes.append(.request(method: h.method, target: h.target, body: []))
                } else {
                    head = h
                }
            case .body(let body):
                outcomes.append(.request(method: head?.method ?? "?", target: head?.target ?? "?", body: body))
            case .error(let error):
                outcomes.append(.error(error.status))
                return outcomes
            }
        }
    }
    return outcomes
}

func testLimits(
    maxBody: Int = 1_048_576, maxTarget: Int = 8192, maxHeaderBytes: Int = 32768, maxHeaderCount: Int = 100
) -> HTTPParser.Limits {
    var configuration = HTTPServerConfiguration()
    configuration.maxBodyBytes = maxBody
    configuration.maxRequestTargetBytes = maxTarget
    configuration.maxHeaderBytes = maxHeaderBytes
    configuration.maxHeaderCount = maxHeaderCount
    return HTTPParser.Limits(configuration)
}

extension Array where Element == UInt8 {
    init(_ string: String) { self = Array(string.utf8) }
}

/// A handler for end-to-end tests.
struct TestHandler: HTTPHandler {
    /// Chunks written so far by `/stream` producers (to see that a producer blocks).
    static let streamChunksWritten = Atomic<Int>(0)

    func handle(_ request: HTTPRequest, responder: HTTPResponder) {
        switch request.path {
        case "/healthz":
            responder.respond(HTTPResponse(status: 200, body: [UInt8]("ok")))
        case "/echo":
            var headers = HTTPHeaders()
            headers.add("X-Method", request.method)
            headers.add("X-Peer", request.peerAddress)
            responder.respond(HTTPResponse(status: 200, headers: headers, body: request.body))
        case "/id":
            responder.respond(HTTPResponse(status: 200, body: [UInt8](request.requestID)))
        case "/query":
            responder.respond(HTTPResponse(status: 200, body: [UInt8](request.query)))
        case "/slow":
            Thread.detachNewThread {
                usleep(300_000)
                responder.respond(HTTPResponse(status: 200, body: [UInt8]("slow")))
            }
        case "/offthread":
            Thread.detachNewThread {
                responder.respond(HTTPResponse(status: 201, body: [UInt8]("from another thread")))
            }
        case "/stream":
            let megabytes = Int(request.query) ?? 4
            Thread.detachNewThread {
                let stream = responder.startStream(
                    status: 200, headers: HTTPHeaders([("Content-Type", "application/x-ndjson")]),
                    logFields: [("rows", "many")])
                let line = [UInt8](repeating: UInt8(ascii: "x"), count: 1023) + [10]
                var chunk: [UInt8] = []
                for _ in 0..<64 { chunk += line }
                for _ in 0..<(megabytes * 16) {
                    guard stream.write(chunk) else { return }
                    TestHandler.streamChunksWritten.add(1, ordering: .relaxed)
                }
                stream.finish()
            }
        case "/big":
            // A whole response of N MiB (not streamed): it sits in the connection's output.
            let megabytes = Int(request.query) ?? 1
            responder.respond(HTTPResponse(status: 200, body: [UInt8](repeating: UInt8(ascii: "b"), count: megabytes << 20)))
        case "/stream-abort":
            Thread.detachNewThread {
                let stream = responder.startStream(status: 200, headers: HTTPHeaders(), logFields: [])
                _ = stream.write([UInt8]("partial line\n"))
                stream.abort()
                stream.finish()  // ignored after abort
            }
        default:
            responder.respond(HTTPResponse(status: 404, body: [UInt8]("not found")))
        }
    }

    func errorResponse(status: Int, code: String, message: String, requestID: String) -> HTTPResponse {
        HTTPResponse(status: status, headers: HTTPHeaders([("Content-Type", "application/json")]),
                     body: [UInt8]("{\"code\":\"\(code)\"}"))
    }
}

/// Starts a server on an ephemeral port for one test; stopped by `stop()`.
final class TestServer: Sendable {
    let server: HTTPServer
    var port: Int { server.boundPort }

    init(_ configure: (inout HTTPServerConfiguration) -> Void = { _ in }) throws {
        var configuration = HTTPServerConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.threads = 2
        configuration.accessLog = false
        configure(&configuration)
        server = try HTTPServer(configuration: configuration, handler: TestHandler())
        server.start()
    }

    func stop() {
        server.shutdown()
        server.waitUntilStopped()
    }
}

/// A parsed response read by `TestClient`.
struct TestResponse {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]
    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }
    var bodyText: String { String(decoding: body, as: UTF8.self) }
}

/// A blocking test client over a real socket, with a receive timeout so nothing hangs.
final class TestClient {
    let fd: Int32
    private var buffer: [UInt8] = []
    private(set) var isClosedByPeer = false

    init(port: Int, timeoutSeconds: Int = 5) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var timeout = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        if result != 0 {
            close(fd)
            throw TestError.connectFailed(errno)
        }
    }

    deinit { close(fd) }

    @discardableResult
    func send(_ bytes: [UInt8]) -> Bool {
        var offset = 0
        while offset < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress! + offset, bytes.count - offset, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return false }
            offset += n
        }
        return true
    }

    @discardableResult
    func send(_ text: String) -> Bool { send([UInt8](text)) }

    func shutdownWrite() { Glibc.shutdown(fd, Int32(SHUT_WR)) }

    /// Reads more bytes; false on close, error or timeout.
    private func fill() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65536)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 65536, 0) }
        if n <= 0 {
            if n == 0 { isClosedByPeer = true }
            return false
        }
        buffer.append(contentsOf: chunk[0..<n])
        return true
    }

    /// Everything the server sends until it closes the connection (or the timeout).
    func readToClose() -> [UInt8] {
        while fill() {}
        defer { buffer.removeAll() }
        return buffer
    }

    private func readLine() -> String? {
        while true {
            if let index = buffer.firstIndex(of: 10) {
                let line = buffer[0..<index]
                buffer.removeFirst(index + 1)
                return String(decoding: line.last == 13 ? line.dropLast() : line, as: UTF8.self)
            }
            guard fill() else { return nil }
        }
    }

    private func readExactly(_ count: Int) -> [UInt8]? {
        while buffer.count < count { guard fill() else { return nil } }
        let result = Array(buffer[0..<count])
        buffer.removeFirst(count)
        return result
    }

    /// Reads one response; nil when the connection closed (or timed out) first.
    func readResponse(isHead: Bool = false) -> TestResponse? {
        guard let statusLine = readLine() else { return nil }
        let parts = statusLine.split(separator: " ")
        guard parts.count >= 2, let status = Int(parts[1]) else { return nil }
        var headers: [(String, String)] = []
        while let line = readLine() {
            if line.isEmpty { break }
            guard let colon = line.firstIndex(of: ":") else { return nil }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)))
        }
        var response = TestResponse(status: status, headers: headers, body: [])
        if isHead || status == 100 || status == 204 || status == 304 { return response }
        if let length = response.header("Content-Length").flatMap({ Int($0) }) {
            guard let body = readExactly(length) else { return nil }
            response.body = body
        } else if response.header("Transfer-Encoding") == "chunked" {
            while true {
                guard let sizeLine = readLine(), let size = Int(sizeLine, radix: 16) else { return nil }
                if size == 0 {
                    _ = readLine()
                    break
                }
                guard let data = readExactly(size), readExactly(2) != nil else { return nil }
                response.body += data
            }
        } else {
            while fill() {}
            response.body = buffer
            buffer = []
        }
        return response
    }

    /// Whether the peer closes the connection (EOF) before the timeout.
    func waitForClose() -> Bool {
        while fill() { buffer.removeAll() }
        return isClosedByPeer
    }
}

enum TestError: Error { case connectFailed(Int32) }

/// Polls `condition` until it holds or `seconds` pass.
func eventually(within seconds: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if condition() { return true }
        usleep(10_000)
    }
    return condition()
}

/// A deterministic generator (SplitMix64) for the fuzzers.
struct SeededGenerator: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

func fuzzIterations(_ defaultCount: Int) -> Int {
    if let value = ProcessInfo.processInfo.environment["FUZZ_ITERATIONS"], let count = Int(value) {
        return max(count, defaultCount)
    }
    return defaultCount
}
