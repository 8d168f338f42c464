import Foundation
import Testing
@testable import Gateway

/// `docs/openapi.yaml` describes exactly the routes the router serves: no route without a spec,
/// no spec without a route. HEAD is implied by GET and listed in neither.
@Suite struct OpenAPITests {
    static let specURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../docs/openapi.yaml").standardized

    /// The HTTP methods an OpenAPI path item may hold (other keys, like `parameters`, are not operations).
    static let methods: Set<String> = ["get", "put", "post", "delete", "options", "head", "patch", "trace"]

    /// The (METHOD, path template) pairs under `paths:`, read by indentation: a path key is a line
    /// indented one level below `paths:` that starts with `/`; a method key is a line one level
    /// below that. A tiny reader for the one shape this file uses (no YAML library here).
    static func operations(in yaml: String) -> Set<String> {
        var result: Set<String> = []
        var inPaths = false
        var pathIndent: Int?
        var methodIndent: Int?
        var currentPath: String?
        for rawLine in yaml.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(rawLine)
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            let indent = line.prefix { $0 == " " }.count
            if indent == 0 {
                inPaths = trimmed == "paths:"
                currentPath = nil
                continue
            }
            guard inPaths, trimmed.contains(":") else { continue }
            let key = String(trimmed.prefix { $0 != ":" })
            if pathIndent == nil { pathIndent = indent }
            if indent == pathIndent {
                currentPath = key.hasPrefix("/") ? key.trimmingCharacters(in: CharacterSet(charactersIn: "\"'")) : nil
                methodIndent = nil
            } else if let path = currentPath, indent > pathIndent! {
                if methodIndent == nil { methodIndent = indent }
                if indent == methodIndent, methods.contains(key) {
                    result.insert("\(key.uppercased()) \(path)")
                }
            }
        }
        return result
    }

    @Test func specListsExactlyTheRouterRoutes() throws {
        let yaml = try String(contentsOf: Self.specURL, encoding: .utf8)
        let spec = Self.operations(in: yaml)
        let routes = Set(Routes.make().routes.map { "\($0.method) \($0.template)" })
        #expect(!routes.isEmpty)
        let missingFromSpec = routes.subtracting(spec).sorted()
        let missingFromRouter = spec.subtracting(routes).sorted()
        #expect(missingFromSpec.isEmpty, "routes without an operation in docs/openapi.yaml: \(missingFromSpec)")
        #expect(missingFromRouter.isEmpty, "operations in docs/openapi.yaml without a route: \(missingFromRouter)")
        #expect(!spec.contains { $0.hasPrefix("HEAD ") }, "HEAD is implied by GET")
    }

    @Test func specIsOpenAPI31() throws {
        let yaml = try String(contentsOf: Self.specURL, encoding: .utf8)
        #expect(yaml.hasPrefix("openapi: 3.1."))
        for section in ["info:", "paths:", "components:"] {
            #expect(yaml.split(separator: "\n").contains { $0 == Substring(section) }, "missing \(section)")
        }
        for scheme in ["bearerAuth:", "apiKeyHeader:", "operatorBearer:"] {
            #expect(yaml.contains(scheme), "missing security scheme \(scheme)")
        }
    }

    /// Every `$ref` to a local component names one that exists.
    @Test func localReferencesResolve() throws {
        let yaml = try String(contentsOf: Self.specURL, encoding: .utf8)
        let lines = yaml.split(separator: "\n").map(String.init)
        // Component names: keys two levels under `components:` (section) and three (name).
        var defined: Set<String> = []
        var inComponents = false
        var section: String?
        for line in lines {
            let indent = line.prefix { $0 == " " }.count
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            if indent == 0 { inComponents = trimmed == "components:"; continue }
            guard inComponents, let colon = trimmed.firstIndex(of: ":") else { continue }
            let key = String(trimmed[..<colon])
            if indent == 2 { section = key } else if indent == 4, let section { defined.insert("#/components/\(section)/\(key)") }
        }
        var unresolved: Set<String> = []
        for line in lines {
            var rest = Substring(line)
            while let range = rest.range(of: "$ref: \"") {
                let after = rest[range.upperBound...]
                guard let end = after.firstIndex(of: "\"") else { break }
                let target = String(after[..<end])
                if !defined.contains(target) { unresolved.insert(target) }
                rest = after[end...]
            }
        }
        #expect(unresolved.isEmpty, "unresolved references: \(unresolved.sorted())")
    }

    /// The reader itself, on a small document.
    @Test func readerFindsPathsAndMethods() {
        let yaml = """
            openapi: 3.1.0
            paths:
              /a:
                parameters:
                  - name: x
                get:
                  responses: {}
                post:
                  responses: {}
              /b/{id}:
                delete:
                  responses: {}
            components:
              schemas:
                get: {}
            """
        #expect(Self.operations(in: yaml) == ["GET /a", "POST /a", "DELETE /b/{id}"])
    }
}
