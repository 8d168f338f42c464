import Testing

@testable import Auth

@Suite struct CryptoTests {
    @Test(arguments: [
        ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        ("abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
        (
            "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
            "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
        ),
    ])
    func sha256MatchesKnownVectors(input: String, expected: String) {
        #expect(Crypto.sha256Hex(input) == expected)
        #expect(Crypto.sha256(Array(input.utf8)).count == 32)
        #expect(Crypto.hex(Crypto.sha256(Array(input.utf8))) == expected)
    }

    @Test func sha256HashesNonASCIIAsUTF8() {
        #expect(Crypto.sha256Hex("é") == Crypto.hex(Crypto.sha256([0xC3, 0xA9])))
    }

    @Test func randomBytesHaveTheRequestedLengthAndDiffer() {
        #expect(Crypto.randomBytes(0).isEmpty)
        #expect(Crypto.randomBytes(1).count == 1)
        let a = Crypto.randomBytes(32)
        let b = Crypto.randomBytes(32)
        #expect(a.count == 32)
        #expect(a != b)
    }

    @Test func randomBytesCoverEveryByteValue() {
        let bytes = Crypto.randomBytes(64 * 1024)
        #expect(Set(bytes).count == 256)
    }

    @Test func constantTimeEqualsComparesContentAndLength() {
        #expect(Crypto.constantTimeEquals([], []))
        #expect(Crypto.constantTimeEquals([1, 2, 3], [1, 2, 3]))
        #expect(!Crypto.constantTimeEquals([1, 2, 3], [1, 2, 4]))
        #expect(!Crypto.constantTimeEquals([1, 2, 3], [1, 2]))
        #expect(!Crypto.constantTimeEquals([], [0]))
        #expect(!Crypto.constantTimeEquals([0], []))
        let digest = Crypto.sha256([9])
        #expect(Crypto.constantTimeEquals(digest, Crypto.sha256([9])))
        #expect(!Crypto.constantTimeEquals(digest, Crypto.sha256([8])))
    }
}
