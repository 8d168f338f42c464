import Foundation
import Testing
@testable import Gateway

@Suite struct MigrationsTests {
    /// Every `.sql` file in Migrations/ is listed, in order, with consecutive versions.
    @Test func listNamesEveryFile() throws {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../Sources/Gateway/Migrations").standardized
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path).filter { $0.hasSuffix(".sql") }.sorted()
        #expect(files.count == Migrations.all.count)
        for (index, migration) in Migrations.all.enumerated() {
            #expect(migration.version == index + 1)
            let text = try String(contentsOf: directory.appendingPathComponent(files[index]), encoding: .utf8)
            #expect(text == migration.sql)
        }
    }
}
