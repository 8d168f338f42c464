import Foundation
import Testing

@testable import Gateway

/// The files under `deploy/` that cannot run here are at least parsed and checked: the systemd unit,
/// the nginx and HAProxy configurations (and `nginx -t` / `haproxy -c` when installed), the
/// Kubernetes manifests and the Containerfile.
@Suite struct DeployFilesTests {
    static let deployURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../../deploy").standardized

    static func read(_ path: String) throws -> String {
        try String(contentsOf: deployURL.appendingPathComponent(path), encoding: .utf8)
    }

    /// Lines without comments and surrounding space, empty ones dropped.
    static func meaningfulLines(_ text: String, comment: Character = "#") -> [String] {
        text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && $0.first != comment }
    }

    // MARK: systemd

    /// `[Section]` → `key` → values (a key may repeat).
    static func parseUnit(_ text: String) -> [String: [String: [String]]] {
        var sections: [String: [String: [String]]] = [:]
        var current: String?
        for line in meaningfulLines(text) where line.first != ";" {
            if line.hasPrefix("[") {
                #expect(line.hasSuffix("]"), "bad section header: \(line)")
                current = String(line.dropFirst().dropLast())
                sections[current!, default: [:]] = sections[current!] ?? [:]
                continue
            }
            guard let section = current, let equals = line.firstIndex(of: "=") else {
                Issue.record("not key=value inside a section: \(line)")
                continue
            }
            let key = String(line[..<equals]).trimmingCharacters(in: .whitespaces)
            let value = String(line[line.index(after: equals)...]).trimmingCharacters(in: .whitespaces)
            #expect(!key.isEmpty && key.allSatisfy { $0.isLetter || $0.isNumber }, "bad key: \(line)")
            sections[section, default: [:]][key, default: []].append(value)
        }
        return sections
    }

    @Test func systemdUnitIsHardened() throws {
        let unit = Self.parseUnit(try Self.read("systemd/memory-gateway.service"))
        #expect(Set(unit.keys) == ["Unit", "Service", "Install"])
        let service = unit["Service"] ?? [:]
        func value(_ key: String) -> String? { service[key]?.last }
        #expect(value("ExecStart")?.hasSuffix("memory-gateway serve") == true)
        #expect(value("DynamicUser") == "yes" || value("User").map { $0 != "root" } == true)
        let required: [String: String] = [
            "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
            "CapabilityBoundingSet": "", "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
            "MemoryDenyWriteExecute": "yes", "KillSignal": "SIGTERM", "TimeoutStopSec": "30", "Restart": "on-failure",
        ]
        for (key, expected) in required {
            #expect(value(key) == expected, "\(key)=\(value(key) ?? "<missing>"), expected \(expected)")
        }
        #expect(value("EnvironmentFile") != nil)
        #expect(Int(value("LimitNOFILE") ?? "") ?? 0 >= 4096)
        #expect(unit["Install"]?["WantedBy"] == ["multi-user.target"])
    }

    /// `systemd-analyze verify` when present (a missing binary is expected here).
    @Test func systemdAnalyzeVerify() throws {
        guard let tool = Self.which("systemd-analyze") else { return }
        let result = try Self.run(tool, ["verify", Self.deployURL.appendingPathComponent("systemd/memory-gateway.service").path])
        let problems = result.output.split(separator: "\n").filter {
            !$0.contains("is not executable") && !$0.contains("No such file or directory") && !$0.isEmpty
        }
        #expect(problems.isEmpty, "systemd-analyze verify: \(problems)")
    }

    // MARK: nginx

    static func bracesBalanced(_ text: String) -> Bool {
        var depth = 0
        for line in meaningfulLines(text) {
            var quoted: Character?
            for character in line {
                if let q = quoted { if character == q { quoted = nil }; continue }
                if character == "\"" || character == "'" { quoted = character; continue }
                if character == "#" { break }
                if character == "{" { depth += 1 }
                if character == "}" { depth -= 1; if depth < 0 { return false } }
            }
        }
        return depth == 0
    }

    /// `host:port` of every `server` line in `upstream` blocks (nginx) or `server name host:port` (HAProxy).
    static func upstreamPorts(_ text: String) -> [Int] {
        meaningfulLines(text).compactMap { line -> Int? in
            let words = line.split(separator: " ").map(String.init)
            guard words.first == "server", words.count >= 2 else { return nil }
            let address = words[1].contains(":") ? words[1] : (words.count > 2 ? words[2] : "")
            guard let colon = address.lastIndex(of: ":") else { return nil }
            return Int(address[address.index(after: colon)...].trimmingCharacters(in: CharacterSet(charactersIn: ";")))
        }
    }

    @Test func nginxConfig() throws {
        let text = try Self.read("nginx/memory-gateway.conf")
        #expect(Self.bracesBalanced(text))
        for needle in ["upstream memory_gateway", "keepalive ", "map $http_x_request_id",
                       "proxy_set_header X-Request-ID $memory_gateway_request_id",
                       "proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for", "proxy_http_version 1.1",
                       "client_max_body_size 1m", "max_fails="] {
            #expect(text.contains(needle), "nginx config lacks \(needle)")
        }
        let ports = Self.upstreamPorts(text)
        #expect(ports.count >= 2, "several instances upstream")
        #expect(Set(ports).count == ports.count, "upstream ports repeat: \(ports)")
        // The same instances as HAProxy's backend.
        #expect(Set(ports) == Set(Self.upstreamPorts(try Self.read("haproxy/haproxy.cfg"))))
    }

    /// `nginx -t` on the config inside a minimal main file with a temporary prefix.
    @Test func nginxAcceptsConfig() throws {
        guard let nginx = Self.which("nginx") else { return }
        let prefix = FileManager.default.temporaryDirectory.appendingPathComponent("mg-nginx-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: prefix.appendingPathComponent("logs"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: prefix) }
        let site = try Self.read("nginx/memory-gateway.conf")
            .replacingOccurrences(of: "/var/log/nginx/", with: prefix.path + "/logs/")
            .replacingOccurrences(of: "listen 80;", with: "listen 127.0.0.1:65531;")  // `-t` does not bind
        try site.write(to: prefix.appendingPathComponent("site.conf"), atomically: true, encoding: .utf8)
        let main = """
            pid \(prefix.path)/nginx.pid;
            error_log \(prefix.path)/logs/error.log;
            events {}
            http {
                client_body_temp_path \(prefix.path)/body;
                proxy_temp_path \(prefix.path)/proxy;
                include \(prefix.path)/site.conf;
            }
            """
        try main.write(to: prefix.appendingPathComponent("nginx.conf"), atomically: true, encoding: .utf8)
        let result = try Self.run(nginx, ["-t", "-q", "-p", prefix.path, "-c", prefix.appendingPathComponent("nginx.conf").path])
        #expect(result.status == 0, "nginx -t: \(result.output)")
    }

    // MARK: HAProxy

    @Test func haproxyConfig() throws {
        let text = try Self.read("haproxy/haproxy.cfg")
        let lines = Self.meaningfulLines(text)
        for section in ["global", "defaults", "frontend ", "backend "] {
            #expect(lines.contains { $0.hasPrefix(section) }, "haproxy lacks a \(section) section")
        }
        for needle in ["option httpchk GET /readyz", "http-check expect status 200", "unique-id-format",
                       "unique-id-header", "X-Request-ID", "option forwardfor"] {
            #expect(text.contains(needle), "haproxy config lacks \(needle)")
        }
        let servers = lines.filter { $0.hasPrefix("server ") }
        #expect(servers.count >= 2 && servers.allSatisfy { $0.contains(" check") })
        guard let haproxy = Self.which("haproxy") else { return }
        let result = try Self.run(haproxy, ["-c", "-f", Self.deployURL.appendingPathComponent("haproxy/haproxy.cfg").path])
        #expect(result.status == 0, "haproxy -c: \(result.output)")
    }

    // MARK: Kubernetes

    /// A document's top-level keys, and `metadata.name`, read by indentation.
    struct Manifest {
        var topLevel: [String: String] = [:]
        var name: String?
        var text = ""
    }

    static func manifests(_ text: String) -> [Manifest] {
        var documents: [Manifest] = []
        var current = Manifest()
        var inMetadata = false
        func finish() { if !current.topLevel.isEmpty { documents.append(current) }; current = Manifest() }
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(raw)
            if line == "---" { finish(); inMetadata = false; continue }
            current.text += line + "\n"
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty || trimmed.hasPrefix("#") { continue }
            #expect(!line.contains("\t"), "tab in YAML: \(line)")
            let indent = line.prefix { $0 == " " }.count
            #expect(indent % 2 == 0, "odd indentation: \(line)")
            guard let colon = trimmed.firstIndex(of: ":") else { continue }
            let key = String(trimmed[..<colon])
            let value = trimmed[trimmed.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            if indent == 0 {
                current.topLevel[key] = value
                inMetadata = key == "metadata"
            } else if indent == 2, inMetadata, key == "name" {
                current.name = value
            }
        }
        finish()
        return documents
    }

    @Test func kubernetesManifests() throws {
        let directory = Self.deployURL.appendingPathComponent("kubernetes")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".yaml") }.sorted()
        var kinds: [String: Manifest] = [:]
        for file in files {
            for manifest in Self.manifests(try String(contentsOf: directory.appendingPathComponent(file), encoding: .utf8)) {
                #expect(manifest.topLevel["apiVersion"].map { !$0.isEmpty } == true, "\(file): a document without apiVersion")
                #expect(manifest.topLevel["kind"].map { !$0.isEmpty } == true, "\(file): a document without kind")
                #expect(manifest.name.map { !$0.isEmpty } == true, "\(file): a document without metadata.name")
                if let kind = manifest.topLevel["kind"] { kinds[kind] = manifest }
            }
        }
        #expect(Set(kinds.keys).isSuperset(of: ["Deployment", "Service", "Secret"]))
        guard let deployment = kinds["Deployment"]?.text, let secret = kinds["Secret"]?.text else { return }
        // Probes: readiness on /readyz, liveness on /healthz.
        let lines = deployment.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        func probePath(_ probe: String) -> String? {
            guard let start = lines.firstIndex(of: "\(probe):") else { return nil }
            return lines[start...].first { $0.hasPrefix("path:") }.map { $0.dropFirst(5).trimmingCharacters(in: .whitespaces) }
        }
        #expect(probePath("readinessProbe") == "/readyz")
        #expect(probePath("livenessProbe") == "/healthz")
        let grace = lines.first { $0.hasPrefix("terminationGracePeriodSeconds:") }
            .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) }
        #expect((grace ?? 0) >= 30)
        #expect(deployment.contains("preStop:") && deployment.contains("sleep"))
        for needle in ["runAsNonRoot: true", "readOnlyRootFilesystem: true", "requests:", "limits:",
                       "secretKeyRef:", "key: GATEWAY_OPERATOR_TOKEN", "key: DATABASE_URL"] {
            #expect(deployment.contains(needle), "Deployment lacks \(needle)")
        }
        #expect(secret.contains("GATEWAY_OPERATOR_TOKEN:") && secret.contains("DATABASE_URL:"))
    }

    // MARK: Safe shipped defaults (contract v1.1, "Fair use between tenants")

    /// The `TRUSTED_PROXIES` entries a file sets: `TRUSTED_PROXIES=a,b` (systemd env lines) or the
    /// `value:` after `name: TRUSTED_PROXIES` (Kubernetes).
    static func trustedProxies(_ text: String) -> [String] {
        let lines = text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        var values: [String] = []
        for (index, line) in lines.enumerated() {
            let bare = line.hasPrefix("#") ? line.drop { $0 == "#" || $0 == " " } : Substring(line)
            if bare.hasPrefix("TRUSTED_PROXIES=") {
                values.append(String(bare.dropFirst("TRUSTED_PROXIES=".count)))
            } else if line == "- name: TRUSTED_PROXIES", index + 1 < lines.count, lines[index + 1].hasPrefix("value:") {
                values.append(lines[index + 1].dropFirst(6).trimmingCharacters(in: CharacterSet(charactersIn: " \"")))
            }
        }
        return values.flatMap { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } }
    }

    /// A single address: no prefix, `/32` for IPv4 or `/128` for IPv6.
    static func isSingleAddress(_ entry: String) -> Bool {
        guard let slash = entry.firstIndex(of: "/") else { return true }
        let prefix = entry[entry.index(after: slash)...]
        return entry.contains(":") ? prefix == "128" : prefix == "32"
    }

    @Test func shippedExamplesTrustOnlyExactProxyAddresses() throws {
        for file in ["systemd/memory-gateway.service", "kubernetes/deployment.yaml"] {
            let entries = Self.trustedProxies(try Self.read(file))
            #expect(!entries.isEmpty, "\(file) shows no TRUSTED_PROXIES")
            for entry in entries {
                #expect(Self.isSingleAddress(entry), "\(file) trusts a whole range as proxies: \(entry)")
            }
        }
        // The parser itself tells a range from an address.
        #expect(!Self.isSingleAddress("10.0.0.0/8") && Self.isSingleAddress("10.0.0.5/32") && !Self.isSingleAddress("fd00::/8"))
        #expect(Self.trustedProxies("#   TRUSTED_PROXIES=10.0.0.0/8,10.1.2.3") == ["10.0.0.0/8", "10.1.2.3"])
    }

    @Test func exampleSecretTokenIsRefusedByServe() throws {
        let secret = try Self.read("kubernetes/secret.yaml")
        let line = try #require(secret.split(separator: "\n").first { $0.trimmingCharacters(in: .whitespaces).hasPrefix("GATEWAY_OPERATOR_TOKEN:") })
        let token = line.split(separator: ":", maxSplits: 1)[1].trimmingCharacters(in: CharacterSet(charactersIn: " \""))
        // A placeholder left in place must stop `serve`, not open /v1/admin.
        #expect(token.count < GatewayConfiguration.minimumOperatorTokenLength, "the example token is usable: \(token)")
    }

    @Test func localSetupGeneratesALongRandomOperatorToken() throws {
        let lib = try Self.read("local/lib.sh")
        let line = try #require(lib.split(separator: "\n").first { $0.contains("MG_OPERATOR_TOKEN=$(") })
        // token_urlsafe(n) gives about 1.3 n characters of n random bytes.
        let bytes = line.firstRange(of: "token_urlsafe(").flatMap { range in Int(line[range.upperBound...].prefix { $0.isNumber }) }
        #expect((bytes ?? 0) >= 32, "deploy/local does not generate a long random token: \(line)")
    }

    @Test func shippedProxyConfigsDoNotPublishMetrics() throws {
        let nginx = Self.meaningfulLines(try Self.read("nginx/memory-gateway.conf"))
        let start = try #require(nginx.firstIndex { $0.hasPrefix("location = /metrics") }, "nginx publishes /metrics")
        let block = nginx[start...].prefix { $0 != "}" }
        #expect(block.contains { $0.hasPrefix("return 404") || $0.hasPrefix("deny all") }, "nginx /metrics block: \(Array(block))")
        #expect(!block.contains { $0.hasPrefix("proxy_pass") })
        let haproxy = Self.meaningfulLines(try Self.read("haproxy/haproxy.cfg"))
        #expect(haproxy.contains { $0.hasPrefix("http-request deny") && $0.contains("/metrics") }, "HAProxy publishes /metrics")
    }

    // MARK: Containerfile

    @Test func containerfile() throws {
        let lines = Self.meaningfulLines(try Self.read("container/Containerfile"))
        let stages = lines.filter { $0.uppercased().hasPrefix("FROM ") }
        #expect(stages.count == 2, "two stages: \(stages)")
        #expect(stages.first?.contains("swift:6") == true)
        #expect(stages.last?.contains("debian:bookworm-slim") == true)
        let joined = lines.joined(separator: "\n")
        #expect(joined.contains("libpq-dev") && joined.contains("libssl-dev"))
        // The runtime stage installs the run-time libraries, not the -dev packages.
        let runtime = lines.drop { $0 != stages.last! }.joined(separator: "\n")
        #expect(runtime.contains("libpq5") && runtime.contains("libssl3"))
        #expect(!runtime.contains("-dev"))
        let user = lines.last { $0.uppercased().hasPrefix("USER ") }?.dropFirst(5).trimmingCharacters(in: .whitespaces)
        #expect(user != nil && user != "root" && user != "0" && !(user ?? "").hasPrefix("0:"))
        #expect(lines.contains("EXPOSE 8080"))
        #expect(lines.contains { $0.hasPrefix("HEALTHCHECK") } && joined.contains("/healthz"))
        #expect(lines.last { $0.hasPrefix("ENTRYPOINT") }?.contains("memory-gateway\", \"serve\"]") == true)
    }

    // MARK: helpers

    static func which(_ tool: String) -> String? {
        for directory in ["/usr/sbin", "/usr/bin", "/sbin", "/bin", "/usr/local/sbin", "/usr/local/bin"] {
            let path = "\(directory)/\(tool)"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    static func run(_ tool: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
