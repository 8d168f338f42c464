import PostgresStore

/// The hottest read fused into the admission statement (see `FusedOperation`): a plain
/// `GET /v1/memories/{id}` that must ask PostgreSQL about its key or lease costs one round trip in
/// all (the lease refill and the read); with a cached key and a live lease only the read is sent
/// (by the handler); with a query string (`as_of`) it falls back to the handler.
///
/// Writes are not fused, on purpose: the admission locks the key's rate-limit row until its
/// transaction ends, and a fused write's transaction ends with a WAL flush, so every request of
/// a busy key would wait for the previous one's fsync (measured: 1,407 instead of 4,920 creates/s
/// on one key). Admission alone commits without a flush (its table is unlogged).
extension Memories {
    static let fusedGet = FusedOperation(
        prepare: { request, parameters, scope in
            guard request.query.isEmpty, let id = parameters["id"] else { return nil }
            return ("""
                SELECT \(MemoryObject.columns)
                  FROM a JOIN memories m ON m.org_id = a.org_id AND m.env = a.environment AND m.memory_id = $4
                                         AND \(MemoryObject.isLive())
                 WHERE \(FusedOperation.admitted(scope))
                """, [.text(id)])
        },
        finish: { context, row in
            // The memory's columns are read by name; NULL when the join found no memory.
            guard let memory = MemoryRow(ifPresent: row) else { throw APIError.notFound("memory") }
            var response = APIResponse(data: memory.jsonBytes)
            response.memoryIDs = [context.parameter("id")]
            return response
        })
}
