/// Splits extraction content into atomic statements: lines, then sentences.
///
/// - A line ends at `\n`, `\r\n` or `\r`.
/// - A sentence ends after `.`, `!` or `?` followed by white space; the punctuation stays with
///   the sentence ("Hi. Bye!" → "Hi.", "Bye!"), a run of it too ("Really?! Yes." → "Really?!", "Yes.").
/// - Statements are trimmed of surrounding white space; empty ones are dropped.
/// - In conversation mode a line is `Speaker: words`; only lines whose speaker (trimmed, any case)
///   is `user`, `human` or `me` are kept, without the label and colon. Lines without a label
///   (no colon) and other speakers' lines are ignored.
enum StatementSplitter {
    /// Speakers whose lines a conversation keeps (compared lowercased).
    static let userSpeakers: Set<String> = ["user", "human", "me"]

    /// The statements of `content`, in order.
    static func statements(in content: String, conversation: Bool) -> [String] {
        var result: [String] = []
        for line in lines(of: content) {
            var text = Substring(line)
            if conversation {
                guard let colon = text.firstIndex(of: ":") else { continue }
                let speaker = trimmed(text[..<colon]).lowercased()
                guard userSpeakers.contains(speaker) else { continue }
                text = text[text.index(after: colon)...]
            }
            result += sentences(in: text)
        }
        return result
    }

    /// `content` cut at `\n`, `\r\n` and `\r`.
    static func lines(of content: String) -> [Substring.UnicodeScalarView] {
        var lines: [Substring.UnicodeScalarView] = []
        let scalars = content.unicodeScalars
        var start = scalars.startIndex
        var index = start
        while index < scalars.endIndex {
            let scalar = scalars[index]
            if scalar == "\n" || scalar == "\r" {
                lines.append(scalars[start..<index])
                var next = scalars.index(after: index)
                if scalar == "\r", next < scalars.endIndex, scalars[next] == "\n" { next = scalars.index(after: next) }
                start = next
                index = next
            } else {
                index = scalars.index(after: index)
            }
        }
        lines.append(scalars[start..<scalars.endIndex])
        return lines
    }

    /// The trimmed, non-empty sentences of one line.
    static func sentences(in line: Substring) -> [String] {
        var result: [String] = []
        let scalars = line.unicodeScalars
        var start = scalars.startIndex
        var previous: Unicode.Scalar?
        var index = start
        while index < scalars.endIndex {
            let scalar = scalars[index]
            if scalar.properties.isWhitespace, let previous, previous == "." || previous == "!" || previous == "?" {
                append(Substring(scalars[start..<index]), to: &result)
                start = index
            }
            previous = scalar
            index = scalars.index(after: index)
        }
        append(Substring(scalars[start..<scalars.endIndex]), to: &result)
        return result
    }

    private static func append(_ piece: Substring, to result: inout [String]) {
        let statement = trimmed(piece)
        if !statement.isEmpty { result.append(String(statement)) }
    }

    /// `text` without leading and trailing Unicode white space (scalar-wise).
    static func trimmed(_ text: Substring) -> Substring {
        var scalars = text.unicodeScalars[...]
        while let first = scalars.first, first.properties.isWhitespace { scalars.removeFirst() }
        while let last = scalars.last, last.properties.isWhitespace { scalars.removeLast() }
        return Substring(scalars)
    }
}
