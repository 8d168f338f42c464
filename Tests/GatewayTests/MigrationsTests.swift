import Foundation
import Testing
@testable import Gateway

@Suite struct MigrationsTests {
    /// Every `.sql` file in Migrations/ is listed, in order, with increasing versions named by their
    /// file (numbers are handed out to branches ahead of merging, so a branch may have gaps).
    @Test func listNamesEveryFile() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/Gateway/Migrations").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files.count == Migrations.all.count)
        for (index, migration) in Migrations.all.enumerated() {
            if index > 0 { #expect(migration.version > Migrations.all[index - 1].version) }
            #expect(files[index].hasPrefix("m" + String(repeating: "0", count: max(0, 4 - String(migration.version).count))
                + String(migration.version) + "_"))
            let text = try String(contentsOf: directory.appendingPathComponent(files[index]), encoding: .utf8)
            #expect(text == migration.sql)
        }
    }
}
