import CCurl
import Foundation

/// What one delivery attempt got back: the HTTP status if a response arrived, else why not.
struct WebhookHTTPOutcome: Sendable, Equatable {
    /// The response's status code; nil when none arrived (connection, TLS or timeout failure).
    var status: Int?
    /// Why the attempt did not get a response, or what went wrong after it (body over the cap).
    var error: String?
}

/// Webhook POSTs through libcurl: the only file that imports `CCurl`. One easy handle per attempt,
/// owned by ``CurlHandle`` and freed once; no pointer leaves this file.
///
/// Every request: the total time is bounded (`timeout`), redirects are never followed, only
/// `http` and `https` are spoken, proxies from the environment are ignored (they would bypass the
/// address check), the response body is read up to `maxResponseBytes` and then the transfer is
/// cut, and the host is pinned (`CURLOPT_RESOLVE`) to the addresses ``WebhookAddressGuard``
/// resolved and checked, so a second DNS answer (rebinding) is never used. TLS is libcurl's
/// (OpenSSL), with certificate and host verification on.
struct WebhookHTTPClient: Sendable {
    /// Bound on the whole attempt: connect, TLS, request and response.
    var timeout: Duration = .seconds(10)
    /// The part of a response body read before the transfer is cut.
    var maxResponseBytes = 64 * 1024

    /// libcurl's global state, set up once before any handle (thread-safe since 7.84).
    private static let globalInit: Bool = mg_curl_global_init() == CURLE_OK

    /// POSTs `body` to `target`, connecting only to `addresses` (already checked).
    func post(_ target: WebhookTarget, addresses: [String], headers: [(String, String)], body: [UInt8]) -> WebhookHTTPOutcome {
        guard Self.globalInit, let handle = CurlHandle() else {
            return WebhookHTTPOutcome(status: nil, error: "the HTTP client could not be initialised")
        }
        return handle.post(target, addresses: addresses, headers: headers, body: body,
                           timeoutMilliseconds: Int(timeout.components.seconds * 1000
                                                    + timeout.components.attoseconds / 1_000_000_000_000_000),
                           maxResponseBytes: maxResponseBytes)
    }
}

/// Counts response bytes for the write callback; the transfer stops once over the cap.
private final class ResponseSink {
    let cap: Int
    var received = 0
    var isOverCap = false
    init(cap: Int) { self.cap = cap }
}

/// Owns one `CURL *` easy handle; `deinit` frees it. Not copyable, so it is freed exactly once.
private struct CurlHandle: ~Copyable {
    private let handle: UnsafeMutableRawPointer

    init?() {
        guard let handle = curl_easy_init() else { return nil }
        self.handle = handle
    }

    deinit { curl_easy_cleanup(handle) }

    func post(_ target: WebhookTarget, addresses: [String], headers: [(String, String)], body: [UInt8],
              timeoutMilliseconds: Int, maxResponseBytes: Int) -> WebhookHTTPOutcome {
        var headerList: UnsafeMutablePointer<curl_slist>?
        for (name, value) in headers + [("Expect", "")] {
            headerList = curl_slist_append(headerList, value.isEmpty ? "\(name):" : "\(name): \(value)")
        }
        var resolveList: UnsafeMutablePointer<curl_slist>?
        if !target.isAddressLiteral, !addresses.isEmpty {
            let pinned = addresses.map { $0.contains(":") ? "[\($0)]" : $0 }.joined(separator: ",")
            resolveList = curl_slist_append(resolveList, "\(target.host):\(target.port):\(pinned)")
        }
        defer {
            curl_slist_free_all(headerList)
            curl_slist_free_all(resolveList)
        }
        let sink = ResponseSink(cap: maxResponseBytes)
        let context = Unmanaged.passUnretained(sink).toOpaque()
        let write: mg_curl_write_callback = { _, size, count, context in
            guard let context else { return 0 }
            let sink = Unmanaged<ResponseSink>.fromOpaque(context).takeUnretainedValue()
            let (bytes, overflow) = size.multipliedReportingOverflow(by: count)
            if overflow { return 0 }
            sink.received += bytes
            if sink.received > sink.cap {
                sink.isOverCap = true
                return 0  // a short count makes libcurl stop the transfer
            }
            return bytes
        }
        var code = CURLE_OK
        func set(_ result: CURLcode) { if code == CURLE_OK { code = result } }
        set(mg_curl_set_string(handle, CURLOPT_URL, target.url))
        set(mg_curl_set_string(handle, CURLOPT_PROTOCOLS_STR, "http,https"))
        set(mg_curl_set_long(handle, CURLOPT_FOLLOWLOCATION, 0))
        set(mg_curl_set_long(handle, CURLOPT_NOSIGNAL, 1))
        set(mg_curl_set_long(handle, CURLOPT_TIMEOUT_MS, timeoutMilliseconds))
        set(mg_curl_set_long(handle, CURLOPT_CONNECTTIMEOUT_MS, timeoutMilliseconds))
        set(mg_curl_set_string(handle, CURLOPT_PROXY, ""))
        set(mg_curl_set_string(handle, CURLOPT_NOPROXY, "*"))
        set(mg_curl_set_string(handle, CURLOPT_USERAGENT, "memory-gateway-webhooks/1.1"))
        set(mg_curl_set_list(handle, CURLOPT_HTTPHEADER, headerList))
        if let resolveList { set(mg_curl_set_list(handle, CURLOPT_RESOLVE, resolveList)) }
        set(mg_curl_set_write_function(handle, write))
        set(mg_curl_set_pointer(handle, CURLOPT_WRITEDATA, context))
        set(mg_curl_set_long(handle, CURLOPT_POST, 1))
        set(mg_curl_set_long(handle, CURLOPT_POSTFIELDSIZE, body.count))
        guard code == CURLE_OK else {
            return WebhookHTTPOutcome(status: nil, error: "the HTTP client refused an option: " + Self.describe(code))
        }
        let performed = body.withUnsafeBufferPointer { buffer -> CURLcode in
            // POSTFIELDS points into `body`, which stays alive for the whole perform.
            guard let base = buffer.baseAddress else { return CURLE_BAD_FUNCTION_ARGUMENT }
            let setFields = mg_curl_set_pointer(handle, CURLOPT_POSTFIELDS, UnsafeMutableRawPointer(mutating: base))
            guard setFields == CURLE_OK else { return setFields }
            return curl_easy_perform(handle)
        }
        withExtendedLifetime(sink) {}
        var status = 0
        _ = mg_curl_response_code(handle, &status)
        let responded = status > 0 ? status : nil
        if performed == CURLE_OK { return WebhookHTTPOutcome(status: responded, error: nil) }
        if sink.isOverCap {
            return WebhookHTTPOutcome(status: responded, error: "response body over \(maxResponseBytes) bytes; cut")
        }
        if performed == CURLE_OPERATION_TIMEDOUT {
            return WebhookHTTPOutcome(status: responded, error: "timed out after \(timeoutMilliseconds) ms")
        }
        return WebhookHTTPOutcome(status: responded, error: Self.describe(performed))
    }

    private static func describe(_ code: CURLcode) -> String {
        guard let text = curl_easy_strerror(code) else { return "libcurl error \(code.rawValue)" }
        return String(cString: text)
    }
}
