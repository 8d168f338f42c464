/// Why a document is not valid JSON: a short message for people and where it went wrong.
///
/// The message never quotes more than a few characters of the input, so it is safe to return
/// to the client in an `invalid_request` error's `details`.
struct JSONError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What is wrong, e.g. `expected ',' or ']'`.
    let message: String
    /// The byte offset in the input where the problem was found.
    let offset: Int

    /// Creates an error.
    init(_ message: String, offset: Int) {
        self.message = message
        self.offset = offset
    }

    /// `<message> at byte <offset>`.
    var description: String { "\(message) at byte \(offset)" }
}
