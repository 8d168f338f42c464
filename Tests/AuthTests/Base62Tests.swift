import Testing

@testable import Auth

@Suite struct Base62Tests {
    @Test(arguments: [0, 1, 20, 40, 1000])
    func randomHasTheRequestedLengthAndAlphabet(count: Int) {
        let text = Base62.random(count: count)
        #expect(text.utf8.count == count)
        #expect(text.utf8.allSatisfy(Base62.isBase62))
    }

    @Test func alphabetHas62DistinctCharacters() {
        #expect(Base62.alphabet.count == 62)
        #expect(Set(Base62.alphabet).count == 62)
        #expect(Base62.alphabet.allSatisfy(Base62.isBase62))
    }

    @Test func isBase62RejectsEverythingElse() {
        let others = (0...255).map(UInt8.init).filter { !Base62.alphabet.contains($0) }
        #expect(others.count == 256 - 62)
        #expect(!others.contains(where: Base62.isBase62))
    }

    /// With 62,000 characters each appears about 1,000 times; a modulo-biased mapping of bytes
    /// (256 % 62 = 8) would put the first 8 characters near 1,129. The bounds are ±25%, far
    /// outside chance (σ ≈ 31).
    @Test func characterFrequenciesAreUniform() {
        var counts: [UInt8: Int] = [:]
        for byte in Base62.random(count: 62_000).utf8 { counts[byte, default: 0] += 1 }
        #expect(counts.count == 62)
        for (_, count) in counts { #expect((850...1150).contains(count)) }
        let firstEight = Base62.alphabet.prefix(8).map { counts[$0, default: 0] }.reduce(0, +)
        let lastEight = Base62.alphabet.suffix(8).map { counts[$0, default: 0] }.reduce(0, +)
        #expect(abs(firstEight - lastEight) < 600)
    }

    @Test(arguments: ["mem", "spc", "key", "org", "req"])
    func identifiersHaveThePrefixAndTwentyCharacters(prefix: String) {
        let id = Identifier.make(prefix: prefix)
        #expect(id.hasPrefix(prefix + "_"))
        #expect(id.utf8.count == prefix.utf8.count + 1 + 20)
        #expect(id.utf8.dropFirst(prefix.utf8.count + 1).allSatisfy(Base62.isBase62))
    }

    @Test func identifierLengthIsConfigurableAndIdsAreUnique() {
        #expect(Identifier.make(prefix: "req", length: 24).utf8.count == 28)
        let ids = (0..<1000).map { _ in Identifier.make(prefix: "mem") }
        #expect(Set(ids).count == 1000)
    }
}
