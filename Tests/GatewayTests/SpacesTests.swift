import Foundation
import Testing
@testable import Gateway

/// `/v1/spaces`: create, list, get, update, delete with and without its memories.
@Suite struct SpacesTests {
    @Test func createsASpaceWithLocation() throws {
        let tenant = try MemoryTestTenant()
        let response = try tenant.call("POST", "/v1/spaces", ["id": "work", "name": "Work", "description": "job things"])
        #expect(response.status == 201)
        #expect(response.header("Location") == "/v1/spaces/work")
        let space = try #require(response.data)
        #expect(space.objectValue?.keys == ["id", "name", "description", "memory_count", "created_at", "updated_at"])
        #expect(space["id"] == "work")
        #expect(space["name"] == "Work")
        #expect(space["description"] == "job things")
        #expect(space["memory_count"] == 0)
        #expect(space["created_at"]?.stringValue?.hasSuffix("Z") == true)
        #expect(try tenant.call("GET", "/v1/spaces/work").data == space)

        let generated = try tenant.call("POST", "/v1/spaces", ["name": "Anonymous"])
        #expect(generated.status == 201)
        let id = try #require(generated.data?["id"]?.stringValue)
        #expect(id.hasPrefix("spc_"))
        #expect(generated.header("Location") == "/v1/spaces/\(id)")
        #expect(generated.data?["description"] == .null)

        let taken = try tenant.call("POST", "/v1/spaces", ["id": "work", "name": "Again"])
        #expect(taken.status == 409)
        #expect(taken.errorCode == "conflict")
    }

    @Test func validatesSpaceFields() throws {
        let tenant = try MemoryTestTenant()
        #expect(try tenant.call("POST", "/v1/spaces", ["name": .string(String(repeating: "n", count: 200))]).status == 201)
        #expect(try tenant.call("POST", "/v1/spaces", ["id": .string(String(repeating: "i", count: 64)), "name": "n"]).status == 201)
        let cases: [(JSONValue, [String])] = [
            ([:], ["name"]),
            (["name": ""], ["name"]),
            (["name": 5], ["name"]),
            (["name": .string(String(repeating: "n", count: 201))], ["name"]),
            (["name": "n", "id": .string(String(repeating: "i", count: 65))], ["id"]),
            (["name": "n", "id": "a/b"], ["id"]),
            (["name": "n", "description": 3], ["description"]),
        ]
        for (body, fields) in cases {
            let response = try tenant.call("POST", "/v1/spaces", body)
            #expect(response.status == 400, "\(body)")
            #expect(detailFields(response) == fields, "\(body)")
        }
    }

    @Test func listsAndUpdatesSpaces() throws {
        let tenant = try MemoryTestTenant()
        try tenant.call("POST", "/v1/spaces", ["id": "a", "name": "A"])
        try tenant.call("POST", "/v1/spaces", ["id": "b", "name": "B", "description": "bee"])
        try tenant.create(["text": "t", "space_id": "c"])
        let list = try tenant.call("GET", "/v1/spaces")
        #expect(list.status == 200)
        let spaces = try #require(list.data?["spaces"]?.arrayValue)
        #expect(Set(spaces.compactMap { $0["id"]?.stringValue }) == ["a", "b", "c"])
        #expect(spaces.first { $0["id"] == "c" }?["memory_count"] == 1)
        #expect(spaces.first { $0["id"] == "c" }?["name"] == "c")
        let paged = try tenant.call("GET", "/v1/spaces?per_page=2")
        #expect(paged.data?["spaces"]?.arrayValue?.count == 2)
        #expect(paged.data?["has_more"] == true)
        #expect(try tenant.call("GET", "/v1/spaces?per_page=0").status == 400)

        let renamed = try tenant.call("PUT", "/v1/spaces/b", ["name": "Bee"])
        #expect(renamed.status == 200)
        #expect(renamed.data?["name"] == "Bee")
        #expect(renamed.data?["description"] == "bee")
        let described = try tenant.call("PUT", "/v1/spaces/b", ["description": "buzz"])
        #expect(described.data?["name"] == "Bee")
        #expect(described.data?["description"] == "buzz")
        let cleared = try tenant.call("PUT", "/v1/spaces/b", ["description": nil])
        #expect(cleared.data?["description"] == .null)
        #expect(try tenant.call("PUT", "/v1/spaces/b", [:]).status == 400)
        #expect(try tenant.call("PUT", "/v1/spaces/b", ["name": ""]).status == 400)
        #expect(try tenant.call("PUT", "/v1/spaces/zzz", ["name": "x"]).status == 404)
        #expect(try tenant.call("GET", "/v1/spaces/zzz").status == 404)
        #expect(try tenant.call("DELETE", "/v1/spaces/zzz").status == 404)
    }

    @Test func deletingASpaceKeepsItsMemoriesWithoutASpace() throws {
        let tenant = try MemoryTestTenant()
        try tenant.create(["text": "a", "memory_id": "k1", "space_id": "proj"])
        try tenant.create(["text": "b", "memory_id": "k2", "space_id": "proj"])
        try tenant.create(["text": "c", "memory_id": "k3", "space_id": "other"])
        let response = try tenant.call("DELETE", "/v1/spaces/proj")
        #expect(response.status == 200)
        #expect(response.data == ["id": "proj", "deleted": true, "memories_deleted": 0])
        #expect(try tenant.call("GET", "/v1/spaces/proj").status == 404)
        #expect(try tenant.call("GET", "/v1/memories/k1").data?["space_id"] == .null)
        #expect(try tenant.call("GET", "/v1/memories/count").data?["count"] == 3)
        #expect(try tenant.call("GET", "/v1/memories/k3").data?["space_id"] == "other")
    }

    @Test func deletingASpaceWithItsMemories() throws {
        let tenant = try MemoryTestTenant()
        try tenant.create(["text": "a", "memory_id": "k1", "space_id": "proj"])
        try tenant.call("PUT", "/v1/memories/k1", ["text": "a2"])
        try tenant.create(["text": "b", "memory_id": "k2", "space_id": "proj"])
        try tenant.create(["text": "c", "memory_id": "k3"])
        #expect(try tenant.call("DELETE", "/v1/spaces/proj?delete_memories=maybe").status == 400)
        let response = try tenant.call("DELETE", "/v1/spaces/proj?delete_memories=true")
        #expect(response.status == 200)
        #expect(response.data == ["id": "proj", "deleted": true, "memories_deleted": 2])
        #expect(try tenant.call("GET", "/v1/memories/k1").status == 404)
        #expect(try tenant.call("GET", "/v1/memories/k1/history").status == 404)
        #expect(try tenant.call("GET", "/v1/memories/count").data?["count"] == 1)
        // Recreating the id starts a fresh history.
        try tenant.create(["text": "new", "memory_id": "k1"])
        #expect(try tenant.call("GET", "/v1/memories/k1/history").data?["versions"]?.arrayValue?.count == 1)
    }

    @Test func spacesAreIsolatedByTenantAndEnvironment() throws {
        let alice = try MemoryTestTenant()
        let bob = try MemoryTestTenant()
        try alice.call("POST", "/v1/spaces", ["id": "private", "name": "Alice's"])
        #expect(try bob.call("GET", "/v1/spaces/private").status == 404)
        #expect(try bob.call("PUT", "/v1/spaces/private", ["name": "Bob's"]).status == 404)
        #expect(try bob.call("DELETE", "/v1/spaces/private").status == 404)
        #expect(try bob.call("GET", "/v1/spaces").data?["spaces"]?.arrayValue?.isEmpty == true)
        #expect(try bob.call("POST", "/v1/spaces", ["id": "private", "name": "Bob's"]).status == 201)
        #expect(try alice.call("GET", "/v1/spaces/private").data?["name"] == "Alice's")
        let testKey = try alice.key(environment: "test")
        #expect(try alice.call("GET", "/v1/spaces/private", key: testKey).status == 404)
        #expect(try alice.call("POST", "/v1/spaces", ["id": "private", "name": "test"], key: testKey).status == 201)
    }
}
