import Testing

@testable import Auth

@Suite struct APIKeyTests {
    @Test(arguments: KeyEnvironment.allCases)
    func generatedKeysHaveTheDocumentedShape(environment: KeyEnvironment) throws {
        let key = APIKeyMaterial.generate(environment: environment)
        #expect(key.hasPrefix("mem_\(environment.rawValue)_"))
        #expect(key.utf8.count == 9 + 40)
        #expect(key.utf8.dropFirst(9).allSatisfy(Base62.isBase62))
        let parsed = try #require(APIKeyMaterial.parse(key))
        #expect(parsed.environment == environment)
        #expect(parsed.key == key)
        #expect(parsed.prefix == String(key.prefix(12)))
        #expect(parsed.hash == Crypto.sha256(Array(key.utf8)))
    }

    @Test func generatedKeysAreDistinct() {
        let keys = (0..<200).map { _ in APIKeyMaterial.generate(environment: .live) }
        #expect(Set(keys).count == keys.count)
    }

    @Test(arguments: [
        "mem_live_" + String(repeating: "a", count: 32),
        "mem_test_" + String(repeating: "Z", count: 32),
        "mem_live_" + String(repeating: "9", count: 119),  // 128 in all
        "mem_live_0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    ])
    func acceptsWellFormedKeys(key: String) {
        #expect(APIKeyMaterial.parse(key) != nil)
    }

    @Test(arguments: [
        "",
        "mem_live_",
        "mem_live_" + String(repeating: "a", count: 31),  // too short
        "mem_live_" + String(repeating: "a", count: 120),  // 129 in all
        "mem_prod_" + String(repeating: "a", count: 32),
        "MEM_LIVE_" + String(repeating: "a", count: 32),
        "mem_Live_" + String(repeating: "a", count: 32),
        "mem_live" + String(repeating: "a", count: 33),
        " mem_live_" + String(repeating: "a", count: 32),
        "mem_live_" + String(repeating: "a", count: 32) + " ",
        "mem_live_" + String(repeating: "a", count: 31) + "-",
        "mem_live_" + String(repeating: "a", count: 31) + "_",
        "mem_live_" + String(repeating: "a", count: 31) + "é",
        "Bearer mem_live_" + String(repeating: "a", count: 32),
        "sk_live_" + String(repeating: "a", count: 40),
    ])
    func rejectsMalformedKeys(key: String) {
        #expect(APIKeyMaterial.parse(key) == nil)
    }

    @Test func parseReportsTheEnvironment() {
        #expect(APIKeyMaterial.parse("mem_test_" + String(repeating: "x", count: 40))?.environment == .test)
        #expect(APIKeyMaterial.parse("mem_live_" + String(repeating: "x", count: 40))?.environment == .live)
    }

    @Test func hashAndPrefixAreStable() {
        let key = "mem_live_abcdefghijklmnopqrstuvwxyz0123456789ABCD"
        #expect(APIKeyMaterial.prefix(key) == "mem_live_abc")
        #expect(APIKeyMaterial.prefix("short") == "short")
        #expect(APIKeyMaterial.hash(key) == Crypto.sha256(Array(key.utf8)))
        #expect(Crypto.hex(APIKeyMaterial.hash(key)) == Crypto.sha256Hex(key))
    }

    @Test func descriptionNeverShowsTheSecret() throws {
        let key = APIKeyMaterial.generate(environment: .live)
        let material = try #require(APIKeyMaterial.parse(key))
        #expect(material.description == String(key.prefix(12)) + "…")
        #expect(!"\(material)".contains(String(key.dropFirst(12))))
    }

    @Test func environmentPrefixes() {
        #expect(KeyEnvironment.live.keyPrefix == "mem_live_")
        #expect(KeyEnvironment.test.keyPrefix == "mem_test_")
        #expect(KeyEnvironment(rawValue: "live") == .live)
        #expect(KeyEnvironment(rawValue: "prod") == nil)
    }
}
