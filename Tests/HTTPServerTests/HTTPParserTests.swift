import Testing

@testable import HTTPServer

@Suite struct HTTPParserTests {
    static let simple = "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"

    @Test func parsesASimpleRequest() {
        #expect(parseAll([UInt8](Self.simple)) == [.request(method: "GET", target: "/healthz", body: [])])
    }

    @Test func parsesAtEveryByteBoundary() {
        let input = [UInt8](
            "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nTrailer: t\r\n\r\n"
                + "PUT /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
        let expected: [ParseOutcome] = [
            .request(method: "POST", target: "/a", body: [UInt8]("hello world")),
            .request(method: "PUT", target: "/b", body: [UInt8]("abc")),
        ]
        #expect(parseAll(input, pieces: Array(repeating: 1, count: input.count)) == expected)
        for split in 1..<input.count {
            #expect(parseAll(input, pieces: [split]) == expected, "split at \(split)")
        }
    }

    @Test func acceptsLeadingEmptyLinesButBoundsThem() {
        #expect(parseAll([UInt8]("\r\n\r\n" + Self.simple)) == [.request(method: "GET", target: "/healthz", body: [])])
        #expect(parseAll([UInt8](String(repeating: "\r\n", count: 20) + Self.simple)) == [.error(400)])
    }

    @Test func parsesHTTP10AndKeepAlive() {
        var parser = HTTPParser(limits: testLimits())
        let input = [UInt8]("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        let (_, result) = input.withUnsafeBufferPointer { parser.parse($0) }
        guard case .head(let head) = result else {
            Issue.record("no head")
            return
        }
        #expect(head.version == .http1_0)
        #expect(head.isKeepAlive)
    }

    @Test func connectionCloseEndsKeepAlive() {
        var parser = HTTPParser(limits: testLimits())
        let input = [UInt8]("GET / HTTP/1.1\r\nHost: x\r\nConnection: Close\r\n\r\n")
        let (_, result) = input.withUnsafeBufferPointer { parser.parse($0) }
        guard case .head(let head) = result else {
            Issue.record("no head")
            return
        }
        #expect(!head.isKeepAlive)
    }

    @Test func readsExpectAndRequestID() {
        var parser = HTTPParser(limits: testLimits())
        let input = [UInt8](
            "POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nX-Request-ID: abc.DEF_1-2\r\nContent-Length: 1\r\n\r\n")
        let (_, result) = input.withUnsafeBufferPointer { parser.parse($0) }
        guard case .head(let head) = result else {
            Issue.record("no head")
            return
        }
        #expect(head.expectsContinue)
        #expect(head.incomingRequestID == "abc.DEF_1-2")
        #expect(head.framing == .length(1))
    }

    /// Each smuggling or framing case and the status it must get.
    static let refusals: [(String, Int)] = [
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +3\r\n\r\nabc", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -3\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: \r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 0x10\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999999\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity, chunked\r\n\r\n", 501),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: \r\n\r\n", 400),
        ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length : 5\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\n Host: x\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\0b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX-A: a\u{1}b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n", 400),
        ("GET / HTTP/1.1\nHost: x\n\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nX(A): b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\n: b\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFFFF\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", 400),
        ("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n-3\r\nabc\r\n", 400),
        ("GET / HTTP/1.1\r\n\r\n", 400),
        ("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        ("GET / HTTP/1.0\r\nHost: a\r\nHost: a\r\n\r\n", 400),
        ("GET /  HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET / HTTP/1.1 \r\nHost: x\r\n\r\n", 400),
        ("GET /\r\nHost: x\r\n\r\n", 400),
        ("GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("GET / HTTP/2.0\r\nHost: x\r\n\r\n", 400),
        ("GET / HTTP/1.2\r\nHost: x\r\n\r\n", 400),
        ("GET / http/1.1\r\nHost: x\r\n\r\n", 400),
        ("G(T / HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        ("BREW / HTTP/1.1\r\nHost: x\r\n\r\n", 501),
        ("get / HTTP/1.1\r\nHost: x\r\n\r\n", 501),
        ("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n", 413),
    ]

    @Test(arguments: refusals)
    func refusesMalformedOrAmbiguousRequests(input: String, status: Int) {
        let bytes = [UInt8](input)
        #expect(parseAll(bytes).last == .error(status), "\(input.debugDescription)")
        // The same status whatever the split.
        #expect(parseAll(bytes, pieces: Array(repeating: 1, count: bytes.count)).last == .error(status))
    }

    @Test func acceptsTheKnownMethodsAndTrace() {
        for method in ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE"] {
            #expect(parseAll([UInt8]("\(method) / HTTP/1.1\r\nHost: x\r\n\r\n")) == [.request(method: method, target: "/", body: [])])
        }
    }

    @Test func refusesATooLongTargetWith414() {
        let long = "GET /" + String(repeating: "a", count: 9000) + " HTTP/1.1\r\nHost: x\r\n\r\n"
        #expect(parseAll([UInt8](long)) == [.error(414)])
        // Without waiting for the end of the line.
        let unterminated = "GET /" + String(repeating: "a", count: 9000)
        #expect(parseAll([UInt8](unterminated)) == [.error(414)])
    }

    @Test func refusesTooManyOrTooLargeHeadersWith431() {
        var many = "GET / HTTP/1.1\r\nHost: x\r\n"
        for i in 0..<100 { many += "X-\(i): v\r\n" }
        #expect(parseAll([UInt8](many + "\r\n")) == [.error(431)])
        var exactly = "GET / HTTP/1.1\r\nHost: x\r\n"
        for i in 0..<99 { exactly += "X-\(i): v\r\n" }
        #expect(parseAll([UInt8](exactly + "\r\n")) == [.request(method: "GET", target: "/", body: [])])
        let large = "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "b", count: 40000)
        #expect(parseAll([UInt8](large)) == [.error(431)])
    }

    @Test func refusesAChunkedBodyOverTheLimitWith413() {
        let limits = testLimits(maxBody: 10)
        let input = [UInt8]("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n8\r\n12345678\r\n8\r\n")
        #expect(parseAll(input, limits: limits) == [.error(413)])
        let fits = [UInt8]("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n12345\r\n5\r\n67890\r\n0\r\n\r\n")
        #expect(parseAll(fits, limits: limits) == [.request(method: "POST", target: "/", body: [UInt8]("1234567890"))])
    }

    @Test func acceptsAContentLengthWithLeadingZeros() {
        let input = [UInt8]("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 003\r\n\r\nabc")
        #expect(parseAll(input) == [.request(method: "POST", target: "/", body: [UInt8]("abc"))])
    }

    @Test func neverResynchronisesAfterAnError() {
        let input = [UInt8]("GET / HTTP/1.1\r\nHost : x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(parseAll(input) == [.error(400)])
    }

    @Test func fuzzedInputsNeverCrashOrHang() {
        var generator = SeededGenerator(state: 0x5EED)
        let seeds: [[UInt8]] = HTTPParserTests.refusals.map { [UInt8]($0.0) } + [
            [UInt8](Self.simple),
            [UInt8]("POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;e\r\nhello\r\n0\r\nT: v\r\n\r\n"),
            [UInt8]("PUT /b?x=1 HTTP/1.0\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\nabc"),
        ]
        let alphabet: [UInt8] = [0, 9, 10, 13, 32, 44, 58, 59, 48, 70, 255, 127] + [UInt8]("chunkedGETHTTP/1.")
        let iterations = fuzzIterations(10_000)
        let limits = testLimits(maxBody: 4096, maxTarget: 256, maxHeaderBytes: 1024, maxHeaderCount: 20)
        for _ in 0..<iterations {
            var input = seeds[Int(generator.next(upperBound: UInt64(seeds.count)))]
            for _ in 0..<(1 + Int(generator.next(upperBound: UInt64(4)))) {
                let position = Int(generator.next(upperBound: UInt64(input.count + 1)))
                switch generator.next(upperBound: UInt64(4)) {
                case 0 where position < input.count:
                    input[position] = alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))]
                case 1 where position < input.count:
                    input.remove(at: position)
                case 2:
                    input.insert(alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))], at: position)
                default:
                    input.insert(contentsOf: input[0..<min(position, 16)], at: position)
                }
            }
            let whole = parseAll(input, limits: limits)
            let split = Int(generator.next(upperBound: UInt64(input.count + 1)))
            let pieces = parseAll(input, pieces: [split], limits: limits)
            #expect(whole == pieces, "\(input)")
            if whole != pieces { return }
        }
    }
}

/// The chunk-size and trailer scanners resume where the last read stopped: a client sending one
/// byte at a time costs linear, not quadratic, scanning.
@Suite struct HTTPParserLinearScanTests {
    /// Feeds `input` one byte per `parse` call, as a slow client's reads arrive; returns the
    /// parser's scanned-byte count and what it produced.
    static func feedBytewise(_ input: [UInt8]) -> (scanned: Int, outcomes: [ParseOutcome]) {
        var parser = HTTPParser(limits: testLimits())
        var buffer: [UInt8] = []
        var outcomes: [ParseOutcome] = []
        var head: HTTPRequestHead?
        for byte in input {
            buffer.append(byte)
            while true {
                let (consumed, result) = buffer.withUnsafeBufferPointer { parser.parse($0) }
                buffer.removeFirst(consumed)
                if case .needMore = result { break }
                switch result {
                case .needMore: break
                case .head(let h): head = h
                case .body(let body): outcomes.append(.request(method: head?.method ?? "?", target: head?.target ?? "?", body: body))
                case .error(let error): return (parser.lineScanBytes, outcomes + [.error(error.status)])
                }
            }
        }
        return (parser.lineScanBytes, outcomes)
    }

    @Test func longChunkExtensionsAndTrailersSentByteByByteAreScannedOnce() {
        let extensionText = ";" + String(repeating: "e", count: 4000)
        let trailers = (0..<30).map { "X-T\($0): " + String(repeating: "v", count: 900) + "\r\n" }.joined()
        let text = "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5\(extensionText)\r\nhello\r\n6\(extensionText)\r\n world\r\n0\(extensionText)\r\n" + trailers + "\r\n"
        let input = [UInt8](text)
        let (scanned, outcomes) = Self.feedBytewise(input)
        #expect(outcomes == [.request(method: "POST", target: "/a", body: [UInt8]("hello world"))])
        // Each line byte is examined by findLF and by the bare-CR check once, plus one byte of
        // overlap per read: at most about 3 × the input. Rescanning would be ~n²/2 ≈ 10^8 here.
        #expect(scanned <= 3 * input.count, "scanned \(scanned) bytes for \(input.count) of input")
        #expect(scanned >= input.count / 2, "the counter counts (scanned \(scanned))")
    }

    @Test func bareCRSplitAcrossReadsIsStillRefused() {
        // The CR ends one read and the next byte is not LF: caught by the one-byte overlap.
        for line in ["5;a\rb\r\nhello\r\n0\r\n\r\n", "5\r\nhello\r\n0\r\nX: a\rb\r\n\r\n"] {
            let input = [UInt8]("POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + line)
            #expect(Self.feedBytewise(input).outcomes == [.error(400)], "\(line.debugDescription)")
            #expect(parseAll(input) == [.error(400)])
        }
    }
}
