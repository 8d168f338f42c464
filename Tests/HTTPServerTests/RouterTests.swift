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

    /// The first segment where two fitting templates differ decides: a literal there wins even
    /// when the other template has more literals further right.
    @Test func theLeftmostLiteralDecidesPrecedence() {
        var router = Router<String>()
        router.add("GET", "/a/{x}/c", "literal-first")
        router.add("GET", "/{y}/b/c", "parameter-first")
        guard case .found(let value, let parameters, _) = router.match(method: "GET", path: "/a/b/c") else {
            Issue.record("not found")
            return
        }
        #expect(value == "literal-first")
        #expect(parameters == ["x": "b"])
        guard case .found(let other, let otherParameters, _) = router.match(method: "GET", path: "/z/b/c") else {
            Issue.record("not found")
            return
        }
        #expect(other == "parameter-first")
        #expect(otherParameters == ["y": "z"])
    }

    /// A literal branch that leads nowhere for the rest of the path gives way to the parameter.
    @Test func aDeadEndLiteralBranchFallsBackToTheParameter() {
        var router = Router<String>()
        router.add("GET", "/v1/memories/count", "count")
        router.add("GET", "/v1/memories/{id}/history", "history")
        router.add("GET", "/v1/memories", "list")
        guard case .found(let value, let parameters, _) = router.match(method: "GET", path: "/v1/memories/count/history") else {
            Issue.record("not found")
            return
        }
        #expect(value == "history")
        #expect(parameters["id"] == "count")
        // `/v1` is a prefix of routes but not a route itself.
        if case .notFound = router.match(method: "GET", path: "/v1") {} else { Issue.record("prefix") }
        if case .notFound = router.match(method: "GET", path: "/v1/memories/count/history/x") {} else { Issue.record("longer") }
    }

    /// Templates that differ only in their parameter names share a node; each route reads its own names.
    @Test func routesSharingAShapeKeepTheirOwnParameterNames() {
        var router = Router<String>()
        router.add("GET", "/spaces/{space}", "get")
        router.add("PUT", "/spaces/{name}", "put")
        guard case .found(_, let get, _) = router.match(method: "GET", path: "/spaces/s%20one") else {
            Issue.record("GET")
            return
        }
        #expect(get == ["space": "s one"])
        guard case .found(_, let put, let template) = router.match(method: "PUT", path: "/spaces/s1") else {
            Issue.record("PUT")
            return
        }
        #expect(put == ["name": "s1"])
        #expect(template == "/spaces/{name}")
        guard case .methodNotAllowed(let allow) = router.match(method: "DELETE", path: "/spaces/s1") else {
            Issue.record("405")
            return
        }
        #expect(allow == ["GET", "HEAD", "PUT"])
    }

    /// A template with a trailing slash or the root is matched literally; a path without the
    /// leading slash matches nothing; adding a method and template again replaces its value.
    @Test func rootTrailingSlashAndReplacementMatchExactly() {
        var router = Router<String>()
        router.add("GET", "/", "root")
        router.add("GET", "/docs/", "docs-slash")
        router.add("GET", "/docs", "docs")
        router.add("GET", "/docs", "docs-again")
        if case .found(let value, _, _) = router.match(method: "GET", path: "/") { #expect(value == "root") } else { Issue.record("root") }
        if case .found(let value, _, _) = router.match(method: "GET", path: "/docs/") { #expect(value == "docs-slash") } else { Issue.record("slash") }
        if case .found(let value, _, _) = router.match(method: "GET", path: "/docs") { #expect(value == "docs-again") } else { Issue.record("docs") }
        if case .notFound = router.match(method: "GET", path: "docs") {} else { Issue.record("no leading slash") }
        if case .notFound = router.match(method: "GET", path: "") {} else { Issue.record("empty") }
        if case .notFound = router.match(method: "GET", path: "//") {} else { Issue.record("double slash") }
        #expect(router.routes.map(\.template) == ["/", "/docs/", "/docs"])
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

@Suite struct HTTPHeadersTests {
    @Test func countOfNamesFieldsCaseInsensitively() {
        let headers = HTTPHeaders([("Authorization", "a"), ("x-api-key", "b"), ("AUTHORIZATION", "c"), ("Host", "h")])
        #expect(headers.count(of: "authorization") == 2)
        #expect(headers.count(of: "X-API-Key") == 1)
        #expect(headers.count(of: "Idempotency-Key") == 0)
        #expect(headers.values("Authorization") == ["a", "c"])
    }
}
