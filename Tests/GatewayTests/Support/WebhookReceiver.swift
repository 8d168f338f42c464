import Foundation
import HTTPServer
import Synchronization
@testable import Gateway

/// A real HTTP receiver for webhook deliveries on 127.0.0.1 (our HTTP server on an ephemeral
/// port). It records every request and answers what `answer` decides: a status, or `nil` to hold
/// the request unanswered (a receiver that hangs while its sender is killed).
final class WebhookReceiver: Sendable {
    struct Received: Sendable {
        let id: String
        let timestamp: String
        let signature: String
        let body: [UInt8]
        let at: ContinuousClock.Instant
        var json: JSONValue? { try? JSONParser.parse(body) }
        var type: String? { json?["type"]?.stringValue }
    }

    private struct Handler: HTTPHandler {
        let receiver: WebhookReceiver
        func handle(_ request: HTTPRequest, responder: HTTPResponder) {
            let received = Received(id: request.headers["webhook-id"] ?? "", timestamp: request.headers["webhook-timestamp"] ?? "",
                                    signature: request.headers["webhook-signature"] ?? "", body: request.body, at: .now)
            let (index, inFlight) = receiver.state.withLock { state -> (Int, Int) in
                state.requests.append(received)
                state.inFlight += 1
                state.maxInFlight = max(state.maxInFlight, state.inFlight)
                return (state.requests.count - 1, state.inFlight)
            }
            _ = inFlight
            guard let status = receiver.answer(index, received) else {
                receiver.state.withLock { $0.held.append(responder) }
                return
            }
            let delay = receiver.delay
            let finish: @Sendable () -> Void = {
                receiver.state.withLock { $0.inFlight -= 1 }
                responder.respond(HTTPResponse(status: status, body: Array("ok".utf8)))
            }
            if delay > 0 {
                DispatchQueue.global().asyncAfter(deadline: .now() + delay, execute: finish)
            } else {
                finish()
            }
        }

        func errorResponse(status: Int, code: String, message: String, requestID: String) -> HTTPResponse {
            HTTPResponse(status: status)
        }
    }

    private struct State {
        var requests: [Received] = []
        var inFlight = 0
        var maxInFlight = 0
        var held: [HTTPResponder] = []
    }

    private let state = Mutex(State())
    private let answer: @Sendable (_ index: Int, _ request: Received) -> Int?
    private let delay: Double
    private let server: HTTPServer

    /// - Parameters:
    ///   - delay: seconds before each answer (from another thread: the loop never blocks).
    ///   - answer: the status for the `index`-th request (0-based), nil to hold it.
    init(delay: Double = 0, answer: @escaping @Sendable (_ index: Int, _ request: Received) -> Int? = { _, _ in 200 }) throws {
        self.answer = answer
        self.delay = delay
        var configuration = HTTPServerConfiguration()
        configuration.host = "127.0.0.1"
        configuration.port = 0
        configuration.threads = 1
        configuration.accessLog = false
        configuration.shutdownGrace = .milliseconds(200)
        let box = ReceiverBox()
        server = try HTTPServer(configuration: configuration, handler: DeferredHandler(box: box))
        box.set(Handler(receiver: self))
        server.start()
    }

    var url: String { "http://127.0.0.1:\(server.boundPort)/hook" }
    var requests: [Received] { state.withLock { $0.requests } }
    var maxInFlight: Int { state.withLock { $0.maxInFlight } }

    func stop() {
        let held = state.withLock { state -> [HTTPResponder] in
            defer { state.held = [] }
            return state.held
        }
        for responder in held { responder.respond(HTTPResponse(status: 503)) }
        server.shutdown()
        server.waitUntilStopped()
    }
}

/// The handler exists only after the receiver does; the server needs one at init.
private final class ReceiverBox: Sendable {
    private let handler = Mutex<(any HTTPHandler)?>(nil)
    func set(_ value: any HTTPHandler) { handler.withLock { $0 = value } }
    func get() -> (any HTTPHandler)? { handler.withLock { $0 } }
}

private struct DeferredHandler: HTTPHandler {
    let box: ReceiverBox
    func handle(_ request: HTTPRequest, responder: HTTPResponder) {
        guard let handler = box.get() else { return responder.respond(HTTPResponse(status: 503)) }
        handler.handle(request, responder: responder)
    }
    func errorResponse(status: Int, code: String, message: String, requestID: String) -> HTTPResponse {
        HTTPResponse(status: status)
    }
}
