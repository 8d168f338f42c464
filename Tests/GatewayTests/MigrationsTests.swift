import Foundation
import Testing
@testable import Gateway

@Suite struct MigrationsTests {
    /// Every `.sql` file in Migrations/ is listed, in order, each under the version its file name
    /// carries (`m0006_lifecycle.sql` is version 6: engineers are given numbers, so a branch may
    /// hold 6 before 5 is merged).
    @Test func listNamesEveryFile() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/Gateway/Migrations").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files.count == Migrations.all.count)
        for (index, migration) in Migrations.all.enumerated() {
            let number = String(migration.version)
            #expect(files[index] == "m" + String(repeating: "0", count: max(0, 4 - number.count)) + number
                    + "_" + migration.name + ".sql")
            let text = try String(contentsOf: directory.appendingPathComponent(files[index]), encoding: .utf8)
            #expect(text == migration.sql)
        }
    }
}
