/// An incremental HTTP/1.x request parser: a plain state machine over bytes, no I/O, no clock.
///
/// The owner appends what it reads to a buffer and calls `parse` with the unconsumed part; the
/// parser says how many bytes it consumed and what happened. It waits for a whole head before
/// parsing it (scanning each byte once, so one-byte feeding stays linear), checks every limit as
/// bytes arrive, and never allocates more than a limit allows on the client's word. After an
/// error it stays failed: the server answers once and closes, it never resynchronises.
struct HTTPParser {
    /// The limits the parser enforces; see `HTTPServerConfiguration`.
    struct Limits: Sendable {
        var maxBodyBytes: Int
        var maxRequestTargetBytes: Int
        var maxHeaderBytes: Int
        var maxHeaderCount: Int

        init(_ configuration: HTTPServerConfiguration) {
            maxBodyBytes = configuration.maxBodyBytes
            maxRequestTargetBytes = configuration.maxRequestTargetBytes
            maxHeaderBytes = configuration.maxHeaderBytes
            maxHeaderCount = configuration.maxHeaderCount
        }
    }

    /// What one call to `parse` produced.
    enum Result {
        /// More bytes are needed.
        case needMore
        /// A head is complete. When its framing is not `.none`, the body follows: call again.
        case head(HTTPRequestHead)
        /// The body of the last head is complete (de-chunked).
        case body([UInt8])
        /// The request is refused; the parser is now failed.
        case error(HTTPParseError)
    }

    /// Where the scan of a head stands, offsets relative to the start of the head.
    struct HeadScan {
        var scanned = 0
        var lineStart = 0
        var requestLineEnd = -1
        var fieldLines = 0
        var emptyLinesSkipped = 0
    }

    enum State {
        case head(HeadScan)
        case lengthBody(remaining: Int)
        /// `scanned`: bytes of the partial line already scanned (no LF, no bare CR in them).
        case chunkSize(scanned: Int)
        case chunkData(remaining: Int)
        case chunkDataEnd
        /// `bytes`: trailer bytes so far; `scanned`: of the partial line, as for `chunkSize`.
        case trailers(bytes: Int, scanned: Int)
        case failed
    }

    /// Empty lines tolerated before a request line (RFC 9112 §2.2).
    static let maxLeadingEmptyLines = 8
    /// The longest chunk-size line (size and extensions) accepted.
    static let maxChunkLineBytes = 4096

    let limits: Limits
    var state: State = .head(HeadScan())
    /// The body read so far (de-chunked).
    var body: [UInt8] = []
    /// Bytes the chunk-size and trailer line scanners have examined, in total: each byte of a
    /// line once, however the line arrives (tests check that one-byte feeding stays linear).
    /// Written only by the line scanners in `HTTPParser+Body.swift`.
    var lineScanBytes = 0
    /// What is known of the request being parsed, for the error response and its log line.
    /// Written only by `parseHead` (`HTTPParser+Head.swift`), as the head is read.
    var errorMethod: String?
    var errorTarget: String?
    var errorRequestID: String?

    init(limits: Limits) {
        self.limits = limits
    }

    /// Whether no byte of a next request has been consumed or scanned.
    var isAtRequestStart: Bool {
        if case .head(let scan) = state { return scan.scanned == 0 && scan.emptyLinesSkipped == 0 }
        return false
    }

    /// Whether the parser is reading a body.
    var isReadingBody: Bool {
        switch state {
        case .lengthBody, .chunkSize, .chunkData, .chunkDataEnd, .trailers: true
        case .head, .failed: false
        }
    }

    /// Consumes bytes from the front of `buffer` (the unconsumed input).
    ///
    /// Each state's step consumes what it can and either returns a result for the caller or
    /// moves to the next state for another turn of the loop.
    mutating func parse(_ buffer: UnsafeBufferPointer<UInt8>) -> (consumed: Int, result: Result) {
        var consumed = 0
        do throws(HTTPParseError) {
            while true {
                let result: Result?
                switch state {
                case .failed:
                    return (0, .error(.badRequest("parser already failed")))
                case .head(let scan):
                    result = try readHead(buffer, &consumed, scan)
                case .lengthBody(let remaining):
                    result = readLengthBody(buffer, &consumed, remaining: remaining)
                case .chunkSize(let scanned):
                    result = try readChunkSize(buffer, &consumed, scanned: scanned)
                case .chunkData(let remaining):
                    result = readChunkData(buffer, &consumed, remaining: remaining)
                case .chunkDataEnd:
                    result = try readChunkDataEnd(buffer, &consumed)
                case .trailers(let bytes, let scanned):
                    result = try readTrailers(buffer, &consumed, bytes: bytes, scanned: scanned)
                }
                if let result { return (consumed, result) }
            }
        } catch {
            state = .failed
            return (consumed, .error(error))
        }
    }

    /// Back to waiting for a head; returns the body read.
    mutating func finishBody() -> [UInt8] {
        state = .head(HeadScan())
        let result = body
        body = []
        return result
    }
}

extension UInt8 {
    static let cr = UInt8(ascii: "\r")
    static let lf = UInt8(ascii: "\n")
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
}
