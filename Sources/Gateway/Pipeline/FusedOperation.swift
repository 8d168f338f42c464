import Auth
import HTTPServer
import PostgresStore

/// A route's work done in the same statement as admission: one round trip instead of two when
/// admission must ask PostgreSQL (a key not cached, or its lease spent; with a cached key and a
/// live lease the route's handler runs alone, a plain read). The statement is
///
/// ```sql
/// WITH a AS MATERIALIZED (SELECT * FROM gw_lease($1, $2, $3, <lease parameters>)), f AS (<sql>)
/// SELECT a.<admission columns>, f.* FROM a LEFT JOIN f ON true
/// ```
///
/// so `sql` can read the admission's columns (`a.org_id`, `a.environment`, `a.key_prefix`,
/// `a.scopes`, `a.outcome`, `a.hard_quota`) and its own parameters from `$4` on (the lease's
/// parameters follow them). It must do its
/// work only `WHERE` ``admitted(_:)`` holds: a refused request does no work, and a key without the
/// scope reads or writes nothing (the pipeline then answers 403 as usual). The scope is the route's
/// own (`Routes.swift` declares it once), passed to ``prepare``.
struct FusedOperation: Sendable {
    /// The fused part for this request, or nil when it cannot be fused (anything unusual: the
    /// route's handler then runs after admission, as on other routes). Must not throw: errors are
    /// the handler's to report, after authentication. `scope` is what the route requires.
    var prepare: @Sendable (_ request: HTTPRequest, _ parameters: [String: String], _ scope: ScopeSet)
        -> (sql: String, parameters: [PostgresValue])?
    /// The response from the fused columns of `row` (read by name: they follow the admission's), or
    /// nil to run the route's handler instead (it then does the work itself, e.g. to report a conflict).
    var finish: @Sendable (_ context: RequestContext, _ row: PostgresRow) throws -> APIResponse?

    /// The condition under which the fused part may act: admitted, with every scope of `scope`
    /// (fixed wire names, never request text).
    static func admitted(_ scope: ScopeSet) -> String {
        (["a.outcome = 'ok'"] + scope.names.map { "'\($0)' = ANY (a.scopes)" }).joined(separator: " AND ")
    }
}
