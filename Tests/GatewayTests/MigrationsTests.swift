import Foundation
import Testing
@testable import Gateway

@Suite struct MigrationsTests {
    /// Every `.sql` file in Migrations/ is listed, in order, each with the version its file name
    /// carries (`m0008_…` is version 8). Versions increase; they need not be consecutive, since
    /// engineers working in parallel are each given a number.
    @Test func listNamesEveryFile() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/Gateway/Migrations").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files.count == Migrations.all.count)
        var previous = 0
        for (index, migration) in Migrations.all.enumerated() {
            #expect(migration.version > previous)
            previous = migration.version
            #expect(files[index] == "m" + String(format: "%04d", migration.version) + "_\(migration.name).sql")
            let text = try String(contentsOf: directory.appendingPathComponent(files[index]), encoding: .utf8)
            #expect(text == migration.sql)
        }
    }
}
