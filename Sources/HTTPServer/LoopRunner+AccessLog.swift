#if canImport(Glibc)
import Glibc
#endif

extension LoopRunner {
    /// Appends one access-log line for an answered request; written out once per loop turn.
    func log(_ context: RequestContext, status: Int, bytes: Int, fields: [(key: String, value: String)]) {
        guard configuration.accessLog else { return }
        encoder.appendLogLine(
            to: &logBuffer, requestID: context.requestID, method: context.method, path: context.path, status: status,
            bytes: bytes, durationNanoseconds: Socket.monotonicNanoseconds() - context.startedAt, fields: fields)
        if logBuffer.count > 256 * 1024 { flushLog() }
    }

    /// Writes the buffered log lines to stdout.
    func flushLog() {
        guard !logBuffer.isEmpty else { return }
        logBuffer.withUnsafeBytes { bytes in
            guard let base = bytes.baseAddress else { return }
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(1, base + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    break
                }
                offset += written
            }
        }
        logBuffer.removeAll(keepingCapacity: true)
    }
}
