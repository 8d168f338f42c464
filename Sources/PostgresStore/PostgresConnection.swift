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
    private let handle: OpaquePointer
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

    // MARK: Pool support

    /// The server-side transaction state, as libpq tracks it (no round trip).
    var transactionState: TransactionState {
        switch PQtransactionStatus(handle) {
        case PQTRANS_IDLE: return .idle
        case PQTRANS_INTRANS: return .inTransaction
        case PQTRANS_INERROR: return .failed
        case PQTRANS_ACTIVE: return .active
        default: return .unknown
        }
    }

    enum TransactionState {
        case idle, inTransaction, failed, active, unknown
    }

    /// Whether the connection still looks alive, without a round trip: libpq's status, then whether the
    /// server closed the socket or sent something (a shutdown notice) while we were not looking.
    func isAlive() -> Bool {
        guard !isBroken, PQstatus(handle) == CONNECTION_OK else {
            markBroken()
            return false
        }
        let socket = PQsocket(handle)
        guard socket >= 0 else {
            markBroken()
            return false
        }
        // A server that ends a session (shutdown, pg_terminate_backend) first sends a FATAL message, then
        // closes the socket: one read returns the message, only the next one sees the end of the stream.
        // So read while there is something to read (a bounded number of times: a live connection that
        // just received a NOTIFY or a parameter change stops being readable after one read).
        for _ in 0..<Self.maximumReadsWhenCheckingLiveness {
            var descriptor = pollfd(fd: socket, events: Int16(POLLIN), revents: 0)
            let ready = poll(&descriptor, 1, 0)
            if ready == 0 || (ready < 0 && errno == EINTR) { return true }
            if ready < 0 || descriptor.revents & Int16(POLLERR | POLLHUP | POLLNVAL) != 0
                || PQconsumeInput(handle) != 1 || PQstatus(handle) != CONNECTION_OK
            {
                markBroken()
                return false
            }
        }
        return true
    }

    /// See ``isAlive()``.
    private static let maximumReadsWhenCheckingLiveness = 4

    func markBroken() {
        isBroken = true
    }

    // MARK: Notifications (PostgresListener)

    /// The socket to wait on for notifications.
    var socketDescriptor: Int32 { PQsocket(handle) }
    /// The server process serving this connection.
    var backendProcessID: Int32 { PQbackendPID(handle) }

    /// Reads what arrived on the socket and returns the notifications received.
    /// - Throws: ``StoreError/unavailable(_:)`` when the connection is lost.
    func consumeNotifications() throws(StoreError) -> [(channel: String, payload: String)] {
        guard PQconsumeInput(handle) == 1, PQstatus(handle) == CONNECTION_OK else {
            throw connectionError(fallback: "connection lost")
        }
        var notifications: [(channel: String, payload: String)] = []
        while let notification = PQnotifies(handle) {
            notifications.append(
                (String(cString: notification.pointee.relname), String(cString: notification.pointee.extra)))
            PQfreemem(notification)
        }
        return notifications
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

    /// Turns a result into rows or a thrown error, and frees it.
    private func rows(from result: OpaquePointer?) throws(StoreError) -> PostgresRows {
        guard let result else {
            throw connectionError(fallback: "no result")
        }
        defer { PQclear(result) }
        let status = PQresultStatus(result)
        switch status {
        case PGRES_TUPLES_OK, PGRES_COMMAND_OK, PGRES_SINGLE_TUPLE:
            return Self.copyRows(result)
        case PGRES_EMPTY_QUERY:
            return .empty()
        case PGRES_FATAL_ERROR, PGRES_NONFATAL_ERROR, PGRES_BAD_RESPONSE:
            throw error(from: result)
        default:
            // COPY and other states this store never starts: the protocol state is unknown, so the
            // connection is not reused.
            markBroken()
            throw .server(sqlstate: "", message: "unsupported result status \(String(cString: PQresStatus(status)))")
        }
    }

    /// Maps an error result: by SQLSTATE when the server sent one; no SQLSTATE or a dead socket means
    /// the error came from libpq about the connection, which is then unusable.
    private func error(from result: OpaquePointer) -> StoreError {
        let sqlstate = Self.field(result, DiagnosticField.sqlstate)
        guard let sqlstate, PQstatus(handle) == CONNECTION_OK else {
            markBroken()
            let message = Self.trimmed(PQresultErrorMessage(result))
            return .unavailable(message.isEmpty ? "connection lost" : message)
        }
        let message = Self.field(result, DiagnosticField.primaryMessage) ?? Self.trimmed(PQresultErrorMessage(result))
        let error = StoreError.classify(
            sqlstate: sqlstate, message: message, constraint: Self.field(result, DiagnosticField.constraintName))
        if case .unavailable = error { markBroken() }
        return error
    }

    /// `.unavailable` with libpq's connection error message. The protocol state is unknown after such a
    /// failure (no result, cannot send), so the connection is marked broken and never reused.
    private func connectionError(fallback: String) -> StoreError {
        let message = Self.trimmed(PQerrorMessage(handle))
        markBroken()
        return .unavailable(message.isEmpty ? fallback : message)
    }

    /// `PG_DIAG_*` field codes (character-literal macros, which Swift does not import).
    private enum DiagnosticField {
        static let sqlstate = Int32(UInt8(ascii: "C"))
        static let primaryMessage = Int32(UInt8(ascii: "M"))
        static let constraintName = Int32(UInt8(ascii: "n"))
    }

    private static func field(_ result: OpaquePointer, _ code: Int32) -> String? {
        PQresultErrorField(result, code).map { String(cString: $0) }
    }

    private static func trimmed(_ message: UnsafePointer<CChar>?) -> String {
        guard let message else { return "" }
        return String(cString: message).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    private static func trimmed(_ message: UnsafeMutablePointer<CChar>?) -> String {
        trimmed(UnsafePointer(message))
    }

    /// Copies every value of a result into one Swift buffer.
    private static func copyRows(_ result: OpaquePointer) -> PostgresRows {
        let rowCount = Int(PQntuples(result))
        let columnCount = Int(PQnfields(result))
        let names = (0..<columnCount).map { String(cString: PQfname(result, Int32($0))) }
        var total = 0
        for row in 0..<rowCount {
            for column in 0..<columnCount {
                total += Int(PQgetlength(result, Int32(row), Int32(column)))
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(total)
        var starts: [Int] = []
        var lengths: [Int] = []
        starts.reserveCapacity(rowCount * columnCount)
        lengths.reserveCapacity(rowCount * columnCount)
        for row in 0..<rowCount {
            for column in 0..<columnCount {
                let (r, c) = (Int32(row), Int32(column))
                starts.append(bytes.count)
                if PQgetisnull(result, r, c) == 1 {
                    lengths.append(-1)
                } else {
                    let length = Int(PQgetlength(result, r, c))
                    lengths.append(length)
                    if length > 0, let value = PQgetvalue(result, r, c) {
                        bytes.append(contentsOf: UnsafeRawBufferPointer(start: value, count: length))
                    }
                }
            }
        }
        let affected = PQcmdTuples(result).flatMap { Int(String(cString: $0)) } ?? 0
        return PostgresRows(
            affectedRows: affected,
            storage: ResultStorage(columnNames: names, rowCount: rowCount, bytes: bytes, starts: starts, lengths: lengths))
    }
}
