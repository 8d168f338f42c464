import Foundation
import Testing

@testable import Gateway

/// The byte-level reading of `Authorization` and `X-API-Key` agrees with the Foundation
/// split-and-trim it replaced, on every shape of value a client can send.
@Suite struct CredentialParsingTests {
    /// The reading before: `split(" ", maxSplits: 1)`, `lowercased()`, `trimmingCharacters`.
    static func foundationReading(_ authorization: String) -> String?? {
        let parts = authorization.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: true)
        guard let scheme = parts.first, scheme.lowercased() == "bearer" else { return nil }
        guard parts.count == 2 else { return .some(nil) }
        return .some(parts[1].trimmingCharacters(in: .whitespaces))
    }

    static let pieces = [
        "Bearer", "bearer", "BEARER", "BeArEr", "Basic", "Bearerx", "Bear", " ", "  ", "\t", "mg_live_abc",
        "key", "a b", "\u{00A0}", "\u{2003}", "é", "\u{301}", "K", "\u{212A}", "",
    ]

    @Test func bearerCredentialsReadAsFoundationSplitAndTrimDid() {
        var generator = SystemRandomNumberGenerator()
        var checked = 0
        for first in Self.pieces {
            for second in Self.pieces {
                for separator in ["", " ", "  ", "\t"] {
                    let value = first + separator + second
                    #expect(Pipeline.bearerCredentials(value) == Self.foundationReading(value), "\(value.debugDescription)")
                    checked += 1
                }
            }
        }
        for _ in 0..<2000 {
            let count = Int.random(in: 0..<5, using: &generator)
            let value = (0..<count).map { _ in Self.pieces.randomElement(using: &generator)! }.joined(separator: " ")
            #expect(Pipeline.bearerCredentials(value) == Self.foundationReading(value), "\(value.debugDescription)")
            checked += 1
        }
        #expect(checked > 3000)
    }

    @Test func whitespaceTrimmingMatchesFoundationForASCIIAndUnicode() {
        for value in ["", " ", "\t", " k ", "\tk\t", "k", " a b ", "\u{00A0}k\u{00A0}", " é ", "\u{2003} k", "k\u{301} "] {
            #expect(Pipeline.trimmingWhitespace(value) == value.trimmingCharacters(in: .whitespaces), "\(value.debugDescription)")
        }
    }
}
