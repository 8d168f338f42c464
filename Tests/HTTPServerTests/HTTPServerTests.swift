import Foundation
import Synchronization
import Testing

@testable import HTTPServer

#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct HTTPServerTests {
    @Test func servesKeepAliveRequests() throws {
        let server = try TestServer()
        defer { server.stop() }
        let client = try TestClient(port: server.port)
        for _ in 0..<3 {
            client.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            let response = try #require(client.readResponse())
            #expect(response.status == 200)
            #expect(response.bodyText == "ok")
            #expect(response.header("Content-Length") == "2")
            #expect(response.header("X-Request-ID")?.hasPrefix("req_") == true)
            #expect(response.header("Date") != nil)
            #expect(response.header("Connection") == nil)
        }
    }

    @Test func keepsAValidIncomingRequestIDAndReplacesAnInvalidOne() throws {
        let server = try TestServer()
        defer { server.stop() }
        let client = try TestClient(port: server.port)
        client.send("GET /id HTTP/1.1\r\nHost: x\r\nX-Request-ID: lb-123.a_b\r\n\r\n")
        let kept = try #require(client.readResponse())
        #expect(kept.bodyText == "lb-123.a_b")
        #expect(kept.header("X-Request-ID") == "lb-123.a_b")
        client.send("GET /id HTTP/1.1\r\nHost: x\r\nX-Request-ID: bad id!\r\n\r\n")
        let replaced = try #require(client.readResponse())
        #expect(replaced.bodyText.hasPrefix("req_"))
    }

    @Test func answersOneHundredPipelinedRequestsInOrder() throws {
        let server = try TestServer()
        defer { server.stop() }
        let client = try TestClient(port: server.port)
        var batch = ""
        for i in 0..<100 {
            let path = i % 3 == 0 ? "/slow" : (i % 3 == 1 ? "/query?\(i)" : "/offthread")
            batch += i % 3 == 0 ? "GET /query?\(i) HTTP/1.1\r\nHost: x\r\n\r\n" : "GET \(path) HTTP/1.1\r\nHost: x\r\n\r\n"
        }
        client.send(batch)
        for i in 0..<100 {
            let response = try #require(client.readResponse())
            if i % 3 == 2 {
                #expect(response.status == 201)
            } else {
                #expect(response.bodyText == "\(i)")
            }
        }
    }

    @Test func answersEveryPipelinedRequestBeforeAHalfClose() throws {
        let server = try TestServer()
        defer { server.stop() }
        let client = try TestClient(port: server.port)
        client.send(String(repeating: "GET /offthread HTTP/1.1\r\nHost: x\r\n\r\n", count: 3))
        client.shutdownWrite()
        for _ in 0..<3 { #expect(client.readResponse()?.status == 201) }
        #expect(client.waitForClose())
    }

    @Test func pipelinesSlowAndFastHandlersInOrder() throws {
        let server = try TestServer()
        defer { server.stop() }
        let client = try TestClient(port: server.port)
        client.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(client.readResponse()?.bodyText == "slow")
        #expect(client.readResponse()?.bodyText == "ok")
    }

    @Test func aSlowHandlerDoesNotStallOtherConnections() throws {
        let server = try TestServer { $0.threads = 1 }
        defer { server.stop() }
        let slow = try TestClient(port: server.port)
        slow.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        let fast = try TestClient(port: server.port)
        let start = Date()
        fast.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(fast.readResponse()?.status == 200)
        #expect(Date().timeIntervalSince(start) < 0.25)
        #expect(slow.readResponse()?.bodyText == "slow")
    }

    @Test func honoursConnectionCloseAndHTTP10() throws {
        let server = try TestServer()
        defer { server.stop() }
        let client = try TestClient(port: server.port)
        client.send("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        #expect(client.readResponse()?.header("Connection") == "close")
        #expect(client.waitForClose())

        let old = try TestClient(port: server.port)
        old.send("GET /healthz HTTP/1.0\r\n\r\n")
        #expect(old.readResponse()?.header("Connection") == "close")
        #expect(old.waitForClose())

        let oldKeepAlive = try TestClient(port: server.port)
        oldKeepAlive.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(oldKeepAlive.readResponse()?.header("Connection") == "keep-alive")
        oldKeepAlive.send("GET /healthz HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        #expect(oldKeepAlive.readResponse()?.status == 200)
    }

    @Test func headKeepsContentLengthAndDropsTheBody() throws {
        let server = try TestServer()
        defer { server.stop() }
        let client = try TestClient(port: server.port)
        client.send("HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        let head = try #require(client.readResponse(isHead: true))
        #expect(head.header("Content-Length") == "2")
        let get = try #require(client.readResponse())
        #expect(get.bodyText == "ok")
    }

    @Test func readsChunkedAndLengthBodies() throws {
        let server = try TestServer()
        defer { server.stop() }
        let client = try TestClient(port: server.port)
        client.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5;x=y\r\nhello\r\n1\r\n!\r\n0\r\nX-Trailer: 1\r\n\r\n")
        let chunked = try #require(client.readResponse())
        #expect(chunked.bodyText == "hello!")
        #expect(chunked.header("X-Peer") == "127.0.0.1")
        client.send("PUT /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nab")
        client.send("cd")
        #expect(client.readResponse()?.bodyText == "abcd")
    }

    @Test func sendsContinueOnlyWhenTheBodyWillBeRead() throws {
        let server = try TestServer { $0.maxBodyBytes = 100 }
        defer { server.stop() }
        let client = try TestClient(port: server.port)
        client.send("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
        let interim = try #require(client.readResponse())
        #expect(interim.status == 100)
        client.send("hello")
        #expect(client.readResponse()?.bodyText == "hello")

        let refused = try TestClient(port: server.port)
        refused.send("POST /echo HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 500\r\n\r\n")
        let response = try #require(refused.readResponse())
        #expect(response.status == 413)
        #expect(response.header("Connection") == "close")
        #expect(response.bodyText.contains("payload_too_large"))
        #expect(refused.waitForClose())
    }

    @Test(arguments: [
        ("GET /" + String(repeating: "a", count: 300) + " HTTP/1.1\r\nHost: x\r\n\r\n", 414, "uri_too_long"),
        ("GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + String(repeating: "b", count: 600) + "\r\n\r\n", 431, "header_fields_too_large"),
        ("GET / HTTP/1.1\r\nHost: x\r\n" + String(repeating: "X-A: 1\r\n", count: 10) + "\r\n", 431, "header_fields_too_large"),
        ("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 101\r\n\r\n", 413, "payload_too_large"),
        ("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n65\r\n", 413, "payload_too_large"),
        ("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n", 400, "invalid_request"),
        ("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501, "not_implemented"),
        ("BREW /echo HTTP/1.1\r\nHost: x\r\n\r\n", 501, "not_implemented"),
        ("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nab", 400, "invalid_request"),
    ])
    func refusesOverLimitAndMalformedRequestsThenCloses(request: String, status: Int, code: String) throws {
        let server = try TestServer {
            $0.maxBodyBytes = 100
            $0.maxRequestTargetBytes = 256
            $0.maxHeaderBytes = 512
            $0.maxHeaderCount = 10
        }
        defer { server.stop() }
        let client = try TestClient(port: server.port)
        client.send(request + "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        let response = try #require(client.readResponse())
        #expect(response.status == status)
        #expect(response.bodyText.contains(code))
        #expect(response.header("Connection") == "close")
        #expect(response.header("X-Request-ID") != nil)
        #expect(client.readResponse() == nil)
        #expect(client.isClosedByPeer)
    }

    @Test func slowlorisConnectionsDoNotStopNormalClients() throws {
        let server = try TestServer { $0.headTimeout = .seconds(2) }
        defer { server.stop() }
        var slow: [TestClient] = []
        for _ in 0..<200 {
            let client = try TestClient(port: server.port)
            client.send("GET / HTTP/1.1\r\n")
            slow.append(client)
        }
        for round in 0..<2 {
            for client in slow { client.send("X-\(round): y\r\n") }
            let start = Date()
            let normal = try TestClient(port: server.port)
            normal.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(normal.readResponse()?.status == 200)
            #expect(Date().timeIntervalSince(start) < 1)
            usleep(500_000)
        }
        // The slow heads run out of time: 408 and close.
        let timedOut = try #require(slow.first?.readResponse())
        #expect(timedOut.status == 408)
        #expect(slow.first?.waitForClose() == true)
    }

    @Test func closesIdleAndSilentConnections() throws {
        let server = try TestServer {
            $0.idleTimeout = .milliseconds(300)
            $0.headTimeout = .milliseconds(300)
        }
        defer { server.stop() }
        let silent = try TestClient(port: server.port)
        let idle = try TestClient(port: server.port)
        idle.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(idle.readResponse()?.status == 200)
        #expect(silent.readResponse() == nil)
        #expect(silent.isClosedByPeer)
        #expect(idle.waitForClose())
    }

    @Test func refusesAStalledBodyWith408() throws {
        let server = try TestServer { $0.bodyTimeout = .milliseconds(300) }
        defer { server.stop() }
        let client = try TestClient(port: server.port)
        client.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
        #expect(client.readResponse()?.status == 408)
    }

    @Test func closesConnectionsOverTheLimit() throws {
        let server = try TestServer { $0.maxConnections = 2 }
        defer { server.stop() }
        let a = try TestClient(port: server.port)
        let b = try TestClient(port: server.port)
        a.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        b.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(a.readResponse()?.status == 200)
        #expect(b.readResponse()?.status == 200)
        let c = try TestClient(port: server.port)
        c.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(c.readResponse() == nil)
    }

    @Test func answersFromAnotherThread() throws {
        let server = try TestServer()
        defer { server.stop() }
        let client = try TestClient(port: server.port)
        client.send("GET /offthread HTTP/1.1\r\nHost: x\r\n\r\n")
        let response = try #require(client.readResponse())
        #expect(response.status == 201)
        #expect(response.bodyText == "from another thread")
    }

    @Test func streamsSeveralMegabytesToASlowReader() throws {
        let server = try TestServer()
        defer { server.stop() }
        let client = try TestClient(port: server.port)
        let before = TestHandler.streamChunksWritten.load(ordering: .relaxed)
        client.send("GET /stream?32 HTTP/1.1\r\nHost: x\r\n\r\n")
        // The reader is slow at first: the producer must wait (bounded queue: about 1 MiB plus
        // the kernel's socket buffers), not queue 32 MB.
        usleep(300_000)
        let written = TestHandler.streamChunksWritten.load(ordering: .relaxed) - before
        #expect(written > 0 && written < 20 * 16, "\(written) chunks of 64 KiB written before the reader read")
        let response = try #require(client.readResponse())
        #expect(response.header("Transfer-Encoding") == "chunked")
        #expect(response.body.count == 32 * 1024 * 1024)
        client.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(client.readResponse()?.status == 200)
    }

    @Test func disconnectsAClientThatAcceptsNoBytesForTheWriteStallTimeout() throws {
        let server = try TestServer { $0.writeStallTimeout = .milliseconds(300) }
        defer { server.stop() }
        let client = try TestClient(port: server.port)
        let before = TestHandler.streamChunksWritten.load(ordering: .relaxed)
        client.send("GET /stream?64 HTTP/1.1\r\nHost: x\r\n\r\n")
        // The client reads nothing: the socket buffers fill, then no byte is accepted.
        #expect(eventually(within: 5) { server.server.openConnectionCount == 1 })
        #expect(eventually(within: 5) { server.server.openConnectionCount == 0 })
        let written = TestHandler.streamChunksWritten.load(ordering: .relaxed) - before
        #expect(written < 64 * 16, "the producer was stopped, not drained: \(written) chunks")
        // The client sees the stream cut short, without its last chunk.
        let text = client.readToClose()
        #expect(text.count < 64 * 1024 * 1024)
        #expect(!text.suffix(5).elementsEqual(Array("0\r\n\r\n".utf8)))
        let next = try TestClient(port: server.port)
        next.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(next.readResponse()?.status == 200)
    }

    @Test func underMemoryPressureClientsThatReadNothingAreClosedLongBeforeTheStallTimeout() throws {
        let server = try TestServer {
            $0.maxBufferedOutput = 4 << 20
            $0.pressureStallTimeout = .milliseconds(200)
            $0.writeStallTimeout = .seconds(60)
        }
        defer { server.stop() }
        // Three clients ask for 16 MiB each and read nothing: far over the 4 MiB budget.
        let readers = try (0..<3).map { _ in try TestClient(port: server.port) }
        for reader in readers { reader.send("GET /big?16 HTTP/1.1\r\nHost: x\r\n\r\n") }
        #expect(eventually(within: 5) { server.server.openConnectionCount == 3 })
        #expect(eventually(within: 5) { server.server.openConnectionCount == 0 },
                "stalled readers are closed under pressure, not after the 60 s stall timeout")
        let next = try TestClient(port: server.port)
        next.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(next.readResponse()?.status == 200)
    }

    @Test func withinTheOutputBudgetASlowReaderKeepsItsConnectionAndGetsItsWholeResponse() throws {
        let server = try TestServer {
            $0.maxBufferedOutput = 256 << 20
            $0.pressureStallTimeout = .milliseconds(100)
        }
        defer { server.stop() }
        let reader = try TestClient(port: server.port)
        reader.send("GET /big?8 HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(eventually(within: 5) { server.server.openConnectionCount == 1 })
        Thread.sleep(forTimeInterval: 0.5)  // several pressure-stall timeouts with nothing read
        #expect(server.server.openConnectionCount == 1)
        let response = try #require(reader.readResponse())
        #expect(response.status == 200)
        #expect(response.body.count == 8 << 20)
    }

    @Test func streamsCloseDelimitedInHTTP10() throws {
        let server = try TestServer()
        defer { server.stop() }
        let client = try TestClient(port: server.port)
        client.send("GET /stream?1 HTTP/1.0\r\n\r\n")
        let response = try #require(client.readResponse())
        #expect(response.header("Connection") == "close")
        #expect(response.body.count == 1024 * 1024)
    }

    @Test func anAbortedStreamEndsWithoutItsLastChunk() throws {
        let server = try TestServer()
        defer { server.stop() }
        let client = try TestClient(port: server.port)
        client.send("GET /stream-abort HTTP/1.1\r\nHost: x\r\n\r\n")
        let text = String(decoding: client.readToClose(), as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 200"))
        #expect(text.contains("Transfer-Encoding: chunked"))
        #expect(text.contains("partial line"))
        #expect(!text.hasSuffix("0\r\n\r\n"))
        #expect(client.isClosedByPeer)
    }

    @Test func aStreamStopsWhenTheClientGoes() throws {
        let server = try TestServer()
        defer { server.stop() }
        do {
            let client = try TestClient(port: server.port)
            client.send("GET /stream?64 HTTP/1.1\r\nHost: x\r\n\r\n")
            usleep(100_000)
        }
        let next = try TestClient(port: server.port)
        next.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(next.readResponse()?.status == 200)
    }

    @Test func shutdownFinishesARequestInFlight() throws {
        let server = try TestServer()
        let client = try TestClient(port: server.port)
        let idle = try TestClient(port: server.port)
        idle.send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(idle.readResponse()?.status == 200)
        client.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        usleep(50_000)
        let start = Date()
        server.server.shutdown()
        let response = try #require(client.readResponse())
        #expect(response.bodyText == "slow")
        #expect(response.header("Connection") == "close")
        server.server.waitUntilStopped()
        #expect(Date().timeIntervalSince(start) < 2)
        #expect(idle.waitForClose())
        #expect((try? TestClient(port: server.port)) == nil)
    }

    @Test func runReturnsAfterShutdown() throws {
        var configuration = HTTPServerConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.accessLog = false
        let server = try HTTPServer(configuration: configuration, handler: TestHandler())
        let done = DoneFlag()
        Thread.detachNewThread {
            server.run()
            done.set()
        }
        #expect(eventually(within: 2) { (try? TestClient(port: server.boundPort)) != nil })
        server.shutdown()
        #expect(eventually(within: 3) { done.isSet })
    }

    @Test func runReturnsAfterSIGTERMWithARequestInFlight() throws {
        var configuration = HTTPServerConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.accessLog = false
        let server = try HTTPServer(configuration: configuration, handler: TestHandler())
        let done = DoneFlag()
        Thread.detachNewThread {
            server.run()
            done.set()
        }
        var connected: TestClient?
        #expect(eventually(within: 2) {
            connected = try? TestClient(port: server.boundPort)
            return connected != nil
        })
        let client = try #require(connected)
        client.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
        usleep(50_000)
        kill(getpid(), SIGTERM)
        #expect(client.readResponse()?.bodyText == "slow")
        #expect(eventually(within: 3) { done.isSet })
    }

    @Test func servesIPv6DualStack() throws {
        let server = try TestServer { $0.host = "::" }
        defer { server.stop() }
        let client = try TestClient(port: server.port)
        client.send("GET /echo HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(client.readResponse()?.header("X-Peer") == "127.0.0.1")
    }

    @Test func fuzzedRequestsOverSocketsGetAResponseOrAClose() throws {
        let server = try TestServer {
            $0.maxBodyBytes = 1024
            $0.headTimeout = .seconds(1)
            $0.bodyTimeout = .seconds(1)
        }
        defer { server.stop() }
        var generator = SeededGenerator(state: 42)
        let seeds = HTTPParserTests.refusals.map { [UInt8]($0.0) } + [
            [UInt8]("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"),
            [UInt8]("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
        ]
        let alphabet: [UInt8] = [0, 10, 13, 32, 58, 48, 255] + [UInt8]("chunked")
        for _ in 0..<fuzzIterations(2000) {
            var input = seeds[Int(generator.next(upperBound: UInt64(seeds.count)))]
            for _ in 0..<3 {
                let position = Int(generator.next(upperBound: UInt64(input.count)))
                input[position] = alphabet[Int(generator.next(upperBound: UInt64(alphabet.count)))]
            }
            let client = try TestClient(port: server.port, timeoutSeconds: 3)
            client.send(input)
            client.shutdownWrite()
            // Either well-formed responses then a close, or just a close: never a hang.
            while let response = client.readResponse() {
                #expect(response.status >= 100 && response.status < 600)
            }
            #expect(client.isClosedByPeer, "\(input)")
            if !client.isClosedByPeer { return }
        }
    }
}

final class DoneFlag: Sendable {
    private let flag = Mutex<Bool>(false)
    func set() { flag.withLock { $0 = true } }
    var isSet: Bool { flag.withLock { $0 } }
}
