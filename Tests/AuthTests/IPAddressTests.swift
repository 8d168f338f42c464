import Testing

@testable import Auth

@Suite struct IPAddressTests {
    @Test(arguments: [
        ("0.0.0.0", "0.0.0.0"),
        ("127.0.0.1", "127.0.0.1"),
        ("255.255.255.255", "255.255.255.255"),
        ("10.20.30.40", "10.20.30.40"),
        ("::", "::"),
        ("::1", "::1"),
        ("1::", "1::"),
        ("fe80::1", "fe80::1"),
        ("FE80::ABCD", "fe80::abcd"),
        ("2001:db8::8:800:200c:417a", "2001:db8::8:800:200c:417a"),
        ("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"),
        ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),  // first of equal runs
        ("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"),  // a single zero group stays
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"),
        ("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"),
        ("::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"),
        ("::ffff:1.2.3.4", "1.2.3.4"),
        ("::FFFF:192.168.0.1", "192.168.0.1"),
        ("0:0:0:0:0:ffff:0102:0304", "1.2.3.4"),
        ("64:ff9b::1.2.3.4", "64:ff9b::102:304"),
        ("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"),
        ("fe80::1%eth0", "fe80::1"),
        ("fe80::1%25", "fe80::1"),
    ])
    func parsesAndPrintsCanonically(text: String, canonical: String) throws {
        let address = try #require(IPAddress(text))
        #expect(address.description == canonical)
        #expect(address.bytes.count == 16)
        #expect(IPAddress(canonical) == address)
    }

    @Test(arguments: [
        "", " ", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1.2.3.-1", "01.2.3.4", "1.2.3.04", "1..2.3",
        "1.2.3.4 ", " 1.2.3.4", "1.2.3.4/8", "a.b.c.d", "1.2.3.4:80",
        ":", ":::", "1:::2", "::1::", "1::2::3", ":1::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7",
        "1:2:3:4:5:6:7:8::", "::1:2:3:4:5:6:7:8", "12345::", "g::1", "1:", ":1", "1:2:3:4:5:6:7:",
        "::ffff:1.2.3", "::ffff:256.1.1.1", "1.2.3.4::", "::1.2.3.4:1", "1:2:3:4:5:6:7:1.2.3.4",
        "[::1]", "fe80::1%", "fe80::1%eth 0", "1.2.3.4%eth0", "localhost",
    ])
    func rejectsMalformedAddresses(text: String) {
        #expect(IPAddress(text) == nil)
    }

    @Test func ipv4AndMappedIPv6AreTheSameAddress() throws {
        let v4 = try #require(IPAddress("192.0.2.1"))
        let mapped = try #require(IPAddress("::ffff:192.0.2.1"))
        #expect(v4 == mapped)
        #expect(v4.isIPv4)
        #expect(try #require(IPAddress("::1")).isIPv4 == false)
        #expect(v4.bytes == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 192, 0, 2, 1])
    }

    @Test func bytesInitializerChecksLength() {
        #expect(IPAddress(bytes: [UInt8](repeating: 0, count: 15)) == nil)
        #expect(IPAddress(bytes: [UInt8](repeating: 0, count: 16))?.description == "::")
    }
}
