/// The console's files (`Sources/Gateway/Console/`, embedded at build time like the migrations):
/// `GET /console` is the page, `GET /console/{asset}` its script and style sheet. No external
/// asset, no inline script or style: the Content-Security-Policy allows only this origin.
enum ConsoleAssets {
    /// Headers on every console file.
    static let securityHeaders: [(String, String)] = [
        ("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'"),
        ("X-Content-Type-Options", "nosniff"),
        ("X-Frame-Options", "DENY"),
        ("Referrer-Policy", "no-referrer"),
        // A new binary serves new files: revalidate instead of keeping a stale script.
        ("Cache-Control", "no-cache"),
    ]

    private static let files: [String: (contentType: String, bytes: [UInt8])] = [
        "console.js": ("text/javascript; charset=utf-8", PackageResources.console_js),
        "console.css": ("text/css; charset=utf-8", PackageResources.console_css),
    ]

    /// `GET /console`.
    static func page(_ context: RequestContext) throws -> APIResponse {
        response("text/html; charset=utf-8", PackageResources.index_html)
    }

    /// `GET /console/{asset}`; 404 for anything else.
    static func asset(_ context: RequestContext) throws -> APIResponse {
        guard let file = files[context.parameter("asset")] else { throw APIError.notFound("console file") }
        return response(file.contentType, file.bytes)
    }

    private static func response(_ contentType: String, _ bytes: [UInt8]) -> APIResponse {
        var response = APIResponse(contentType: contentType, bytes: bytes)
        response.headers = securityHeaders
        return response
    }
}
