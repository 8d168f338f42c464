import CLibPQ
import Foundation
import Glibc

/// One libpq connection (`PGconn`), owned: `PQfinish` runs exactly once, in `deinit`.
///
/// Not `Sendable`: a connection is confined to the thread that leased it from ``PostgresPool`` (or to
/// the ``PostgresListener`` thread). Calls block that thread until PostgreSQL answers.
///
/// A call that finds the socket broken throws ``StoreError/unavailable(_:)`` and marks the connection
/// broken; every later call fails the same way and the pool discards it. A server error (a constraint,
/// bad input...) leaves it usable.
public final class PostgresConnection {
    /// The libpq connection; read by the result and error mapping in `PostgresConnection+Results.swift`.
    let handle: OpaquePointer
    private let usePreparedStatements: Bool
    /// Statement names by SQL text and parameter types (the types are part of a prepared statement).
    private var preparedNames: [String: String] = [:]
    private var preparedCount = 0
    /// Set when the connection is found dead; it is never used again.
    private(set) var isBroken = false
    /// How long a statement may wait for the server's answer before the connection is given up as
    /// dead: a server that hangs (stopped, partitioned) otherwise holds the caller forever, since
    /// its kernel still acknowledges what is sent and `statement_timeout` runs on the server.
    private let responseTimeout: Duration

    /// Prepared statements kept per connection; statements beyond this run unnamed, so a caller that
    /// builds SQL dynamically cannot grow server memory without bound.
    static let maximumPreparedStatements = 512

    /// Connects, blocking for at most the connect timeout, and configures the session.
    ///
    /// With `settingsInStartupPacket`, `TimeZone`, `DateStyle` and `statement_timeout` travel in the
    /// startup packet's `options` (no extra round trip, and they survive `RESET ALL`). pgbouncer refuses
    /// `options`, so without it they are `SET` right after connecting: pgbouncer tracks `TimeZone` and
    /// `DateStyle` per client and re-applies them on every server connection it hands out; it does not
    /// track `statement_timeout`, which behind pgbouncer is best set on the role or in pgbouncer.
    /// - Throws: ``StoreError/unavailable(_:)`` when the server cannot be reached or refuses us.
    init(
        connectionString: String, connectTimeout: Duration, statementTimeout: Duration?,
        usePreparedStatements: Bool, settingsInStartupPacket: Bool
    ) throws(StoreError) {
        // The server cancels a statement after statement_timeout; a little more than that, the
        // server itself is not answering.
        self.responseTimeout = (statementTimeout ?? .seconds(30)) + .seconds(2)
        let parameters = try Self.connectionParameters(
            connectionString: connectionString, connectTimeout: connectTimeout,
            statementTimeout: settingsInStartupPacket ? statementTimeout : nil,
            settingsInStartupPacket: settingsInStartupPacket)
        let keywords = parameters.map { strdup($0.keyword) }
        let values = parameters.map { strdup($0.value) }
        defer {
            keywords.forEach { free($0) }
            values.forEach { free($0) }
        }
        let keywordPointers = keywords.map { UnsafePointer($0) } + [nil]
        let valuePointers = values.map { UnsafePointer($0) } + [nil]
        guard let connection = PQconnectStartParams(keywordPointers, valuePointers, 0) else {
            throw .unavailable("cannot allocate a connection")
        }
        do throws(StoreError) {
            try Self.completeConnecting(connection, deadline: .now + connectTimeout)
        } catch {
            PQfinish(connection)
            throw error
        }
        // Without this libpq prints every NOTICE ("relation already exists, skipping") on stderr.
        PQsetNoticeProcessor(connection, { _, _ in }, nil)
        self.handle = connection
        self.usePreparedStatements = usePreparedStatements
        if !settingsInStartupPacket {
            do throws(StoreError) {
                try execute(Self.sessionSettingsSQL(statementTimeout: statementTimeout))
            } catch {
                throw .unavailable("cannot configure the session: \(error)")
            }
        }
    }

    /// Drives libpq's non-blocking connection state machine (`PQconnectPoll`) until it succeeds, fails,
    /// or `deadline` passes. Unlike libpq's own `connect_timeout` (whole seconds, at least 2, per host),
    /// this honours the configured `Duration` for the whole attempt.
    private static func completeConnecting(_ connection: OpaquePointer, deadline: ContinuousClock.Instant)
        throws(StoreError)
    {
        var status = PGRES_POLLING_WRITING
        while true {
            guard PQstatus(connection) != CONNECTION_BAD else {
                throw .unavailable("cannot connect: \(trimmed(PQerrorMessage(connection)))")
            }
            switch status {
            case PGRES_POLLING_OK:
                return
            case PGRES_POLLING_FAILED:
                throw .unavailable("cannot connect: \(trimmed(PQerrorMessage(connection)))")
            default:
                let remaining = deadline - .now
                guard remaining > .zero else { throw .unavailable("cannot connect: timed out") }
                // The socket may change between calls (another host or address is tried).
                let events = status == PGRES_POLLING_READING ? POLLIN : POLLOUT
                var descriptor = pollfd(fd: PQsocket(connection), events: Int16(events), revents: 0)
                let ready = poll(&descriptor, 1, Int32(clamping: remaining.roundedUpMilliseconds))
                if ready < 0 && errno != EINTR {
                    throw .unavailable("cannot connect: poll failed (errno \(errno))")
                }
                if ready == 0 { continue }  // re-check the deadline
            }
            status = PQconnectPoll(connection)
        }
    }

    /// Opens a pool connection: settings in the startup packet unless statements are unnamed, which
    /// means pgbouncer in transaction mode.
    convenience init(configuration: PostgresConfiguration) throws(StoreError) {
        try self.init(
            connectionString: configuration.connectionString, connectTimeout: configuration.connectTimeout,
            statementTimeout: configuration.statementTimeout,
            usePreparedStatements: configuration.usePreparedStatements,
            settingsInStartupPacket: configuration.usePreparedStatements)
    }

    /// `SET`s for the session settings, for when they cannot travel in the startup packet.
    static func sessionSettingsSQL(statementTimeout: Duration?) -> String {
        "SET TimeZone = 'UTC'; SET DateStyle = 'ISO'; SET statement_timeout = "
            + String(statementTimeout.map { max(1, $0.roundedUpMilliseconds) } ?? 0)
    }

    deinit {
        PQfinish(handle)
    }

    /// The user's connection string split into keywords, plus the settings the store relies on:
    /// `client_encoding=UTF8`, a connect timeout, TCP keepalives, and with `settingsInStartupPacket`
    /// `TimeZone=UTC`, `DateStyle=ISO` and `statement_timeout` appended to `options`.
    static func connectionParameters(
        connectionString: String, connectTimeout: Duration, statementTimeout: Duration?,
        settingsInStartupPacket: Bool = true
    ) throws(StoreError) -> [(keyword: String, value: String)] {
        var errorMessage: UnsafeMutablePointer<CChar>?
        guard let options = PQconninfoParse(connectionString, &errorMessage) else {
            let message = errorMessage.map { trimmed($0) } ?? "out of memory"
            if let errorMessage { PQfreemem(errorMessage) }
            throw .unavailable("invalid connection string: \(message)")
        }
        defer { PQconninfoFree(options) }
        var parameters: [(keyword: String, value: String)] = []
        var index = 0
        while let keyword = options[index].keyword {
            if let value = options[index].val {
                parameters.append((String(cString: keyword), String(cString: value)))
            }
            index += 1
        }
        func set(_ keyword: String, _ value: String, overriding: Bool) {
            if let existing = parameters.firstIndex(where: { $0.keyword == keyword }) {
                if overriding { parameters[existing].value = value }
            } else {
                parameters.append((keyword, value))
            }
        }
        let timeoutSeconds = max(2, (connectTimeout.roundedUpMilliseconds + 999) / 1000)
        set("connect_timeout", String(timeoutSeconds), overriding: true)
        set("client_encoding", "UTF8", overriding: true)
        set("keepalives", "1", overriding: false)
        set("keepalives_idle", String(SessionDefaults.keepalivesIdleSeconds), overriding: false)
        set("keepalives_interval", String(SessionDefaults.keepalivesIntervalSeconds), overriding: false)
        set("keepalives_count", String(SessionDefaults.keepalivesCount), overriding: false)
        set("tcp_user_timeout", String(SessionDefaults.tcpUserTimeoutMilliseconds), overriding: false)
        set("application_name", SessionDefaults.applicationName, overriding: false)
        // GSSAPI encryption is tried first by default, loading Kerberos on every connect; its
        // thread-specific data then races process exit (an assertion in libkrb5). A connection
        // string may still ask for it.
        set("gssencmode", "disable", overriding: false)
        guard settingsInStartupPacket else { return parameters }
        let statementTimeoutMilliseconds = statementTimeout.map { max(1, $0.roundedUpMilliseconds) } ?? 0
        let session = "-c TimeZone=UTC -c DateStyle=ISO -c statement_timeout=\(statementTimeoutMilliseconds)"
        let userOptions = parameters.first(where: { $0.keyword == "options" })?.value ?? ""
        set("options", userOptions.isEmpty ? session : userOptions + " " + session, overriding: true)
        return parameters
    }

    // MARK: Statements

    /// Runs one statement with parameters (extended protocol), results in text format.
    ///
    /// With prepared statements on, the statement is prepared on first use on this connection (named
    /// `s1`, `s2`...), keyed by SQL text and parameter types; otherwise it is sent unnamed each time.
    /// Parameter types are sent explicitly (`.null` leaves the type to the server).
    ///
    /// A prepared statement the server no longer has (`26000`, after a `DISCARD ALL`) or can no longer
    /// run (`0A000` "cached plan must not change result type", after a schema change) is forgotten and,
    /// outside a transaction block, prepared again and retried once.
    @discardableResult
    ///
    /// `prepared: false` sends the statement unnamed even when statements are prepared: PostgreSQL
    /// then plans it for these parameter values every time (a custom plan), for statements whose
    /// best plan depends on them (full-text search: a generic plan cannot fold the tsquery).
    public func query(_ sql: String, _ parameters: [PostgresValue] = [], prepared: Bool = true) throws(StoreError) -> PostgresRows {
        try checkUsable()
        let values = try encode(parameters)
        let types = parameters.map(PostgresTextFormat.typeOID(of:))
        guard usePreparedStatements, prepared else {
            return try rows(from: execUnnamed(sql, types: types, values: values))
        }
        var attempt = 1
        while true {
            guard let name = try preparedStatementName(sql: sql, types: types) else {
                return try rows(from: execUnnamed(sql, types: types, values: values))
            }
            do throws(StoreError) {
                return try rows(from: execPrepared(name, values: values))
            } catch {
                guard case .server(let sqlstate, _) = error,
                    sqlstate == SQLState.invalidStatementName || sqlstate == SQLState.featureNotSupported
                else { throw error }
                // Never reuse the name: the server may still hold a statement under it.
                preparedNames[Self.cacheKey(sql: sql, types: types)] = nil
                guard attempt == 1, transactionState == .idle else { throw error }
                attempt += 1
            }
        }
    }

    /// Runs SQL with the simple query protocol: no parameters, several statements allowed (migrations).
    /// Execution stops at the first failing statement, whose error is thrown.
    public func execute(_ sql: String) throws(StoreError) {
        try checkUsable()
        _ = try rows(from: awaitResult(sent: PQsendQuery(handle, sql) == 1))
    }

    /// Marks the connection dead: it is never used again (liveness: `PostgresConnection+Session.swift`).
    func markBroken() {
        isBroken = true
    }

    // MARK: Helpers

    private func checkUsable() throws(StoreError) {
        if isBroken || PQstatus(handle) != CONNECTION_OK {
            isBroken = true
            throw .unavailable("connection is closed")
        }
    }

    private func encode(_ parameters: [PostgresValue]) throws(StoreError) -> [[UInt8]?] {
        var values: [[UInt8]?] = []
        values.reserveCapacity(parameters.count)
        for parameter in parameters {
            values.append(try PostgresTextFormat.encode(parameter))
        }
        return values
    }

    private static func cacheKey(sql: String, types: [UInt32]) -> String {
        var key = sql
        key.append("\u{0}")
        for type in types {
            key += String(type)
            key.append(",")
        }
        return key
    }

    private func nextStatementName() -> String {
        preparedCount += 1
        return "s\(preparedCount)"
    }

    /// The name of the prepared statement for this SQL and these types, preparing it if needed; `nil`
    /// when statements run unnamed.
    private func preparedStatementName(sql: String, types: [UInt32]) throws(StoreError) -> String? {
        guard usePreparedStatements else { return nil }
        let key = Self.cacheKey(sql: sql, types: types)
        if let name = preparedNames[key] { return name }
        guard preparedNames.count < Self.maximumPreparedStatements else { return nil }
        let name = nextStatementName()
        _ = try rows(from: awaitResult(sent: PQsendPrepare(handle, name, sql, Int32(types.count), types) == 1))
        preparedNames[key] = name
        return name
    }

    private func execPrepared(_ name: String, values: [[UInt8]?]) throws(StoreError) -> OpaquePointer? {
        try awaitResult(sent: sendPrepared(name, values: values))
    }

    private func execUnnamed(_ sql: String, types: [UInt32], values: [[UInt8]?]) throws(StoreError) -> OpaquePointer? {
        try awaitResult(sent: sendUnnamed(sql, types: types, values: values))
    }

    /// What `PQexec` does after sending (the last result; the first error if one fails), but
    /// waiting for the server at most `responseTimeout`: past it the connection is broken and the
    /// call fails with `.unavailable` (the pool replaces the connection).
    private func awaitResult(sent: Bool) throws(StoreError) -> OpaquePointer? {
        guard sent else { return nil }  // rows(from: nil) reports libpq's error
        let deadline = ContinuousClock.now + responseTimeout
        let socket = PQsocket(handle)
        var kept: OpaquePointer?
        while true {
            while PQisBusy(handle) == 1 {
                let remaining = deadline - ContinuousClock.now
                var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
                let ready = remaining > .zero ? poll(&descriptor, 1, Int32(clamping: remaining.roundedUpMilliseconds)) : 0
                if ready < 0 && errno == EINTR { continue }
                if ready == 0 {
                    if let kept { PQclear(kept) }
                    markBroken()
                    throw .unavailable("PostgreSQL did not answer within \(responseTimeout)")
                }
                if ready < 0 || PQconsumeInput(handle) != 1 { break }  // PQgetResult reports the loss
            }
            guard let result = PQgetResult(handle) else { return kept }
            if let previous = kept {
                // Keep the first error; otherwise the last result, as PQexec does.
                let status = PQresultStatus(previous)
                if status == PGRES_FATAL_ERROR || status == PGRES_NONFATAL_ERROR {
                    PQclear(result)
                    continue
                }
                PQclear(previous)
            }
            kept = result
            if PQstatus(handle) == CONNECTION_BAD { return kept }
        }
    }

    private func sendPrepared(_ name: String, values: [[UInt8]?]) -> Bool {
        Self.withParameterPointers(values) { PQsendQueryPrepared(handle, name, Int32(values.count), $0, nil, nil, 0) }
            == 1
    }

    private func sendUnnamed(_ sql: String, types: [UInt32], values: [[UInt8]?]) -> Bool {
        Self.withParameterPointers(values) {
            PQsendQueryParams(handle, sql, Int32(values.count), types, $0, nil, nil, 0)
        } == 1
    }

    /// Calls `body` with a C array of NUL-terminated values (NULL pointers for SQL NULL), all in one buffer.
    private static func withParameterPointers<R>(
        _ values: [[UInt8]?], _ body: (UnsafePointer<UnsafePointer<CChar>?>?) -> R
    ) -> R {
        var buffer: [UInt8] = []
        buffer.reserveCapacity(values.reduce(0) { $0 + ($1?.count ?? 0) + 1 })
        var offsets: [Int?] = []
        offsets.reserveCapacity(values.count)
        for value in values {
            if let value {
                offsets.append(buffer.count)
                buffer.append(contentsOf: value)
                buffer.append(0)
            } else {
                offsets.append(nil)
            }
        }
        return buffer.withUnsafeBufferPointer { bytes in
            let base = bytes.baseAddress.map { UnsafeRawPointer($0) }
            let pointers: [UnsafePointer<CChar>?] = offsets.map { offset in
                guard let offset, let base else { return nil }
                return (base + offset).assumingMemoryBound(to: CChar.self)
            }
            return pointers.withUnsafeBufferPointer { body($0.baseAddress) }
        }
    }
}
