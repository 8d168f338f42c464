import Foundation
import HTTPServer

/// Operational log lines on stderr, `key=value`. Never keys, hashes, Authorization or bodies.
enum Log {
    static func error(_ message: String, _ fields: [String: String] = [:]) {
        write(level: "error", message, fields)
    }

    static func info(_ message: String, _ fields: [String: String] = [:]) {
        write(level: "info", message, fields)
    }

    private static func write(level: String, _ message: String, _ fields: [String: String]) {
        var line = "level=\(level) msg=\(quoted(message))"
        for (key, value) in fields.sorted(by: { $0.key < $1.key }) {
            line += " \(key)=\(quoted(value))"
        }
        line += "\n"
        FileHandle.standardError.write(Data(line.utf8))
    }

    private static func quoted(_ value: String) -> String {
        LogValue.quoted(value)
    }
}
