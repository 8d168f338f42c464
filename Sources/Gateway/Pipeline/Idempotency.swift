import Auth
import HTTPServer
import PostgresStore

/// `Idempotency-Key` handling: for 24 hours the same key from the same tenant and environment
/// replays the first response; the same key with another request is 409.
///
/// The key's record is claimed, the work done and the response stored in ONE transaction on one
/// connection (`Database` bound to it): they commit together or not at all. So a retry after any
/// failure (a lost commit acknowledgement, an instance killed mid-request) either finds the stored
/// response or does the work afresh, never twice. A concurrent request with the same key waits on
/// the record's row until the first commits, then replays it. 2xx and 4xx are stored, 5xx not
/// (their transaction rolls back, work included). Records left in flight by earlier versions of
/// the gateway are taken over after 60 s.
struct Idempotency {
    let pool: PostgresPool
    /// The takeover and expiry limits of records.
    var limits = IdempotencyRecord.Limits()

    func run(key: String, context: RequestContext, rateHeaders: [(String, String)],
             work: (RequestContext) throws(APIError) -> APIResponse,
             render: (Result<APIResponse, APIError>) -> HTTPResponse) throws -> HTTPResponse {
        guard (1...255).contains(key.count), key.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value < 0x7F }) else {
            throw APIError.invalidField("Idempotency-Key", "must be 1-255 printable ASCII characters")
        }
        let request = context.request
        let (orgID, env) = context.principal.map { ($0.orgID, $0.env) } ?? ("_operator", "live")
        var material = Array("\(request.method)\n\(request.path)\n\(request.query)\n".utf8)
        material.append(contentsOf: request.body)
        let fingerprint = Crypto.sha256(material)

        return try pool.withConnection { connection throws -> HTTPResponse in
            try connection.execute("BEGIN")
            do {
                let response = try runInTransaction(
                    connection, orgID: orgID, env: env, key: key, fingerprint: fingerprint, context: context,
                    rateHeaders: rateHeaders, work: work, render: render)
                if response.status >= 500 {
                    try connection.execute("ROLLBACK")
                } else {
                    try connection.execute("COMMIT")
                }
                return response
            } catch {
                // The pool rolls back a connection returned inside a transaction.
                throw error
            }
        }
    }

    private func runInTransaction(
        _ connection: PostgresConnection, orgID: String, env: String, key: String, fingerprint: [UInt8],
        context: RequestContext, rateHeaders: [(String, String)],
        work: (RequestContext) throws(APIError) -> APIResponse,
        render: (Result<APIResponse, APIError>) -> HTTPResponse
    ) throws -> HTTPResponse {
        let request = context.request
        // A first claim may have waited on a concurrent first request's row: once that commits,
        // a second look (a new snapshot) sees its stored response.
        var claim = try self.claim(connection, orgID: orgID, env: env, key: key, fingerprint: fingerprint)
        if case .raced = claim {
            claim = try self.claim(connection, orgID: orgID, env: env, key: key, fingerprint: fingerprint)
        }
        switch claim {
        case .proceed:
            break
        case .raced:
            throw APIError(status: 409, code: "idempotency_conflict",
                           message: "a request with this Idempotency-Key is in flight", retryAfter: 1)
        case .conflict(let message):
            throw APIError(status: 409, code: "idempotency_conflict", message: message)
        case .replay(let status, let location, let body):
            var headers = APIError.baseHeaders(path: request.path, rateHeaders: rateHeaders)
            headers.add("Content-Type", "application/json")
            if let location { headers.add("Location", location) }
            headers.add("Idempotent-Replayed", "true")
            return HTTPResponse(status: status, headers: headers, body: body)
        }

        let database = Database(pool: pool, boundTo: connection)
        let bound = context.binding(database)
        // The work in a savepoint: a 4xx it throws undoes its partial writes, and the record of
        // that 4xx is still stored in the transaction.
        let result: Result<APIResponse, APIError>
        do {
            result = .success(try database.savepoint(on: connection) { () throws -> APIResponse in try work(bound) })
        } catch let error as APIError {
            result = .failure(error)
        } catch {
            result = .failure(Pipeline.apiError(from: error, requestID: request.requestID))
        }
        let response = render(result)
        guard response.status < 500 else { return response }
        var stored = response.body
        var memoryIDs: [String] = []
        if case .success(let value) = result {
            memoryIDs = value.memoryIDs
            if let replayData = value.replayData {
                stored = Envelope.success(data: replayData, requestID: request.requestID,
                                          processingMilliseconds: elapsedMilliseconds(since: request.receivedAt))
            }
        }
        _ = try connection.query(
            """
            UPDATE idempotency_keys SET status = $4, headers = $5, body = $6, memory_ids = $7,
                   completed_at = clock_timestamp()
             WHERE org_id = $1 AND env = $2 AND idem_key = $3
            """,
            [.text(orgID), .text(env), .text(key), .int(Int64(response.status)),
             response.headers["Location"].map { .text($0) } ?? .null, .bytea(stored), .textArray(memoryIDs)])
        return response
    }

    private enum Claim {
        case proceed
        /// Another request inserted the record between this one's look and its insert.
        case raced
        case conflict(String)
        case replay(status: Int, location: String?, body: [UInt8])
    }

    /// Looks at the key's record (locking it: a concurrent first request's uncommitted record is
    /// waited for), decides with ``IdempotencyRecord/decide(_:limits:)``, and claims the key when
    /// the decision is to do the work.
    private func claim(_ connection: PostgresConnection, orgID: String, env: String, key: String,
                       fingerprint: [UInt8]) throws -> Claim {
        let scope: [PostgresValue] = [.text(orgID), .text(env), .text(key)]
        let rows = try connection.query(
            """
            SELECT \(IdempotencyRecord.selectList)
              FROM idempotency_keys WHERE org_id = $1 AND env = $2 AND idem_key = $3 FOR UPDATE
            """,
            scope + [.bytea(fingerprint)])
        let record = rows.first.map { IdempotencyRecord($0) }
        switch IdempotencyRecord.decide(record, limits: limits) {
        case .claim:
            let inserted = try connection.query(
                """
                INSERT INTO idempotency_keys (org_id, env, idem_key, fingerprint) VALUES ($1, $2, $3, $4)
                ON CONFLICT DO NOTHING RETURNING 1
                """,
                scope + [.bytea(fingerprint)])
            // Nothing inserted: a concurrent first request inserted between our look and our insert.
            return inserted.isEmpty ? .raced : .proceed
        case .expired, .takeover:
            _ = try connection.query(
                """
                UPDATE idempotency_keys
                   SET fingerprint = $4, status = NULL, headers = NULL, body = NULL, memory_ids = '{}',
                       started_at = clock_timestamp(), completed_at = NULL
                 WHERE org_id = $1 AND env = $2 AND idem_key = $3
                """,
                scope + [.bytea(fingerprint)])
            return .proceed
        case .replay(let status, let location, let body):
            return .replay(status: status, location: location, body: body)
        case .wait:
            return .conflict("a request with this Idempotency-Key is still in flight")
        case .conflict:
            return .conflict("this Idempotency-Key was used with another request")
        }
    }

    /// Whole milliseconds of a non-negative number of seconds, saturating (a clock step back is 0).
    static func milliseconds(fromSeconds seconds: Double) -> Int64 {
        guard seconds.isFinite, seconds > 0 else { return 0 }
        let milliseconds = seconds * 1000
        return milliseconds >= Double(Int64.max) ? Int64.max : Int64(milliseconds)
    }
}
