import CSystem
import Foundation

/// The cap on glibc's malloc arenas for `serve`.
///
/// glibc gives a thread that finds the arenas busy an arena of its own, up to 8 per core (16 on
/// this 2-core machine), and each keeps the memory freed into it. With the worker pool, the loops
/// and the background threads allocating at once (a batch import's parse, the pool's results),
/// that left the gateway at 95 MiB resident while idle after the hot-path benchmark, against 30
/// MiB before it; one arena per core (at least 2) kept it at about a third of that growth
/// (docs/decisions.md, "Cold start and idle memory"). Per-thread caches (tcache) still serve
/// most small allocations without touching an arena's lock.
enum MallocArenas {
    /// The cap to set: one arena per core, at least 2; `nil` when the operator set
    /// `MALLOC_ARENA_MAX` (glibc reads it itself, and the operator's value wins).
    static func limit(environment: [String: String], processors: Int) -> Int32? {
        if environment["MALLOC_ARENA_MAX"] != nil { return nil }
        return Int32(clamping: max(2, processors))
    }

    /// Sets the cap (before the serving threads exist, so that none has an arena beyond it);
    /// true when glibc accepted it.
    @discardableResult
    static func cap(_ limit: Int32) -> Bool {
        mallopt(M_ARENA_MAX, limit) == 1
    }

    /// How many arenas glibc has made so far: `malloc_info` writes one `<heap nr=…>` per arena.
    static func count() -> Int {
        var buffer: UnsafeMutablePointer<CChar>?
        var size = 0
        guard let stream = open_memstream(&buffer, &size) else { return 0 }
        _ = malloc_info(0, stream)
        fclose(stream)
        guard let buffer else { return 0 }
        defer { free(buffer) }
        return String(cString: buffer).components(separatedBy: "<heap nr=").count - 1
    }
}
