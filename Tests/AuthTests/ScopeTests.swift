import Testing

@testable import Auth

@Suite struct ScopeTests {
    @Test func parsesNamesInAnyOrderAndWritesCanonicalOrder() throws {
        let scopes = try ScopeSet(names: ["admin", "read", "delete"])
        #expect(scopes == [.read, .delete, .admin])
        #expect(scopes.names == ["read", "delete", "admin"])
        #expect(scopes.description == "read,delete,admin")
        #expect(ScopeSet.all.names == ["read", "write", "delete", "admin"])
    }

    @Test func repeatedNamesAreHarmlessAndEmptyIsEmpty() throws {
        #expect(try ScopeSet(names: ["read", "read"]) == .read)
        #expect(try ScopeSet(names: [String]()).isEmpty)
        #expect(ScopeSet().names == [])
    }

    @Test(arguments: ["erase", "Read", "READ", "", " read", "admin "])
    func unknownNamesAreNamedInTheError(bad: String) {
        #expect(throws: ScopeError.unknownScope(bad)) { try ScopeSet(names: ["read", bad, "also-bad"]) }
        #expect(ScopeSet.parse(["write", bad]) == nil)
        #expect(ScopeSet(name: bad) == nil)
    }

    @Test func errorMessageNamesTheScope() {
        #expect(ScopeError.unknownScope("erase").description.contains("\"erase\""))
    }

    @Test func singleNames() {
        #expect(ScopeSet(name: "read") == .read)
        #expect(ScopeSet(name: "write") == .write)
        #expect(ScopeSet(name: "delete") == .delete)
        #expect(ScopeSet(name: "admin") == .admin)
    }

    @Test func adminImpliesNothingElse() {
        let admin: ScopeSet = .admin
        #expect(!admin.contains(.read))
        #expect(!admin.contains(.write))
        #expect(!admin.contains(.delete))
        #expect(ScopeSet.all.isSuperset(of: [.read, .write]))
    }

    @Test func rawValuesAreStableForStorage() {
        #expect(ScopeSet.read.rawValue == 1)
        #expect(ScopeSet.write.rawValue == 2)
        #expect(ScopeSet.delete.rawValue == 4)
        #expect(ScopeSet.admin.rawValue == 8)
        #expect(ScopeSet(rawValue: 15) == .all)
    }
}
