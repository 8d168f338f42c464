import Testing

@testable import HTTPServer

@Suite struct RouterTests {
    func makeRouter() -> Router<String> {
        var router = Router<String>()
        router.add("GET", "/v1/memories/{id}", "get")
        router.add("DELETE", "/v1/memories/{id}", "delete")
        router.add("GET", "/v1/memories/count", "count")
        router.add("GET", "/v1/memories/{id}/history", "history")
        router.add("POST", "/v1/memories", "create")
        return router
    }

    @Test func literalSegmentsWinOverParameters() {
        guard case .found(let value, let parameters, let template) = makeRouter().match(method: "GET", path: "/v1/memories/count") else {
            Issue.record("not found")
            return
        }
        #expect(value == "count")
        #expect(parameters.isEmpty)
        #expect(template == "/v1/memories/count")
    }

    /// A literal route hides the parameter route for every method: `DELETE /v1/memories/count` is
    /// 405 with the literal route's Allow, not a delete of a memory called "count".
    @Test func literalSegmentsHideParametersForOtherMethods() {
        guard case .methodNotAllowed(let allow) = makeRouter().match(method: "DELETE", path: "/v1/memories/count") else {
            Issue.record("expected 405")
            return
        }
        #expect(allow == ["GET", "HEAD"])
        guard case .found(let value, _, _) = makeRouter().match(method: "DELETE", path: "/v1/memories/other") else {
            Issue.record("not found")
            return
        }
        #expect(value == "delete")
    }

    @Test func parametersArePercentDecodedPerSegment() {
        guard case .found(let value, let parameters, _) = makeRouter().match(method: "GET", path: "/v1/memories/a%2Fb/history") else {
            Issue.record("not found")
            return
        }
        #expect(value == "history")
        #expect(parameters["id"] == "a/b")
    }

    @Test func invalidEscapesAndNulAreNotFound() {
        if case .notFound = makeRouter().match(method: "GET", path: "/v1/memories/%zz") {} else { Issue.record("bad escape") }
        if case .notFound = makeRouter().match(method: "GET", path: "/v1/memories/a%00") {} else { Issue.record("NUL") }
        if case .notFound = makeRouter().match(method: "GET", path: "/v1/memories/%4") {} else { Issue.record("short") }
    }

    @Test func headMatchesGetAndAllowListsHead() {
        guard case .found(let value, _, _) = makeRouter().match(method: "HEAD", path: "/v1/memories/m1") else {
            Issue.record("HEAD")
            return
        }
        #expect(value == "get")
        guard case .methodNotAllowed(let allow) = makeRouter().match(method: "PUT", path: "/v1/memories/m1") else {
            Issue.record("405")
            return
        }
        #expect(Set(allow) == ["GET", "HEAD", "DELETE"])
        guard case .methodNotAllowed(let createAllow) = makeRouter().match(method: "GET", path: "/v1/memories") else {
            Issue.record("405")
            return
        }
        #expect(createAllow == ["POST"])
    }

    @Test func trailingSlashAndUnknownPathsAreNotFound() {
        if case .notFound = makeRouter().match(method: "GET", path: "/v1/memories/") {} else { Issue.record("empty id") }
        if case .notFound = makeRouter().match(method: "POST", path: "/v1/memories/") {} else { Issue.record("slash") }
        if case .notFound = makeRouter().match(method: "GET", path: "/v2/x") {} else { Issue.record("unknown") }
        #expect(makeRouter().routes.count == 5)
    }

    @Test func requestIDsAreWellFormedAndUnique() {
        var seen = Set<String>()
        for _ in 0..<10_000 {
            let id = RequestID.generate()
            #expect(id.hasPrefix("req_") && id.count == 28)
            #expect(RequestID.isValidIncoming(id))
            seen.insert(id)
        }
        #expect(seen.count == 10_000)
        // No fixed part after `req_`: every position varies across ids.
        let ids = Array(seen)
        for position in 4..<28 {
            let characters = Set(ids.prefix(500).map { Array($0.utf8)[position] })
            #expect(characters.count > 20, "position \(position) barely varies")
        }
        #expect(!RequestID.isValidIncoming(""))
        #expect(!RequestID.isValidIncoming(String(repeating: "a", count: 129)))
        #expect(RequestID.isValidIncoming(String(repeating: "a", count: 128)))
        #expect(!RequestID.isValidIncoming("a b"))
        #expect(!RequestID.isValidIncoming("é"))
    }
}
