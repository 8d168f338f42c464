import Testing
@testable import Gateway

/// `MemoryFilter` without a database: the containment documents a metadata filter matches, and
/// the time parameters it accepts.
@Suite struct MemoriesFilterTests {
    @Test(arguments: [
        ("3", [#"{"k":"3"}"#, #"{"k":["3"]}"#, #"{"k":3}"#, #"{"k":[3]}"#]),
        ("true", [#"{"k":"true"}"#, #"{"k":["true"]}"#, #"{"k":true}"#, #"{"k":[true]}"#]),
        ("null", [#"{"k":"null"}"#, #"{"k":["null"]}"#, #"{"k":null}"#, #"{"k":[null]}"#]),
        ("-1.5e3", [#"{"k":"-1.5e3"}"#, #"{"k":["-1.5e3"]}"#, #"{"k":-1.5e3}"#, #"{"k":[-1.5e3]}"#]),
        ("abc", [#"{"k":"abc"}"#, #"{"k":["abc"]}"#]),
        ("True", [#"{"k":"True"}"#, #"{"k":["True"]}"#]),
        ("03", [#"{"k":"03"}"#, #"{"k":["03"]}"#]),
        ("\"q\"", [#"{"k":"\"q\""}"#, #"{"k":["\"q\""]}"#]),
        ("[1]", [#"{"k":"[1]"}"#, #"{"k":["[1]"]}"#]),
    ])
    func metadataCandidates(_ value: String, _ expected: [String]) {
        #expect(MemoryFilter.candidates(key: "k", value: value) == expected)
    }

    @Test func parsesFiltersFromTheQuery() {
        var issues = Issues()
        let filter = MemoryFilter(QueryParameters("space_id=s&source=api&metadata.a=1&metadata.b.c=x&updated_since=2026-01-01T00:00:00Z"),
                                  issues: &issues)
        #expect(issues.isEmpty)
        #expect(filter.spaceID == "s")
        #expect(filter.source == "api")
        #expect(filter.metadataCandidates.count == 2)
        #expect(filter.metadataCandidates[1].first == #"{"b.c":"x"}"#)
        #expect(filter.updatedSince == "2026-01-01T00:00:00Z")
    }

    @Test func collectsEveryBadFilter() {
        var issues = Issues()
        _ = MemoryFilter(QueryParameters("space_id=a%2Fb&source=API&updated_since=x&updated_before=2026-02-30T00:00:00Z"), issues: &issues)
        #expect(issues.list.map(\.field) == ["space_id", "source", "updated_since", "updated_before"])
    }

    @Test(arguments: [
        ("2026-11-24T10:30:00Z", "2026-11-24T10:30:00Z"),
        ("2026-11-24T10:30:00.123+02:00", "2026-11-24T08:30:00.123Z"),
        ("2026-11-24T10:30:00.123 02:00", "2026-11-24T08:30:00.123Z"),
        ("2026-11-24T10:30:00 05:30", "2026-11-24T05:00:00Z"),
        ("2026-11-24T10:30:00-01:00", "2026-11-24T11:30:00Z"),
    ])
    func acceptsTimestamps(_ text: String, _ expected: String) {
        #expect(MemoryFilter.timestampText(text) == expected)
    }

    @Test(arguments: ["", "2026-11-24", "2026-11-24T10:30:00", "2026-11-24T25:00:00Z", "2026-11-24T10:30:00 0200", "now",
                      "2026-11-24T10:30:00Z" + String(repeating: " ", count: 50)])
    func refusesOtherTimes(_ text: String) {
        #expect(MemoryFilter.timestampText(text) == nil)
    }
}
