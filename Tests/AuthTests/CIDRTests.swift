import Testing

@testable import Auth

@Suite struct CIDRTests {
    @Test(arguments: [
        ("10.0.0.0/8", "10.0.0.0/8"),
        ("192.168.1.7", "192.168.1.7/32"),
        ("192.168.1.7/24", "192.168.1.0/24"),  // host bits cleared
        ("0.0.0.0/0", "0.0.0.0/0"),
        ("2001:db8::/32", "2001:db8::/32"),
        ("2001:db8::1", "2001:db8::1/128"),
        ("2001:db8:ffff::1/32", "2001:db8::/32"),
        ("::/0", "::/0"),
        ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
        ("fe80::/10", "fe80::/10"),
        ("10.255.255.255/9", "10.128.0.0/9"),
    ])
    func parsesAndNormalizes(text: String, canonical: String) throws {
        let block = try #require(CIDR(text))
        #expect(block.description == canonical)
        #expect(CIDR(canonical) == block)
    }

    @Test(arguments: [
        "", "/8", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/-1", "10.0.0.0/+8", "10.0.0.0/08", "10.0.0.0/8/8",
        "10.0.0.0/ 8", " 10.0.0.0/8", "2001:db8::/129", "2001:db8::/1000", "fe80::1%eth0/64", "fe80::1%eth0",
        "10.0.0/8", "abc", "10.0.0.0/8 ",
    ])
    func rejectsMalformedBlocks(text: String) {
        #expect(CIDR(text) == nil)
    }

    @Test(arguments: [
        ("10.0.0.0/8", "10.0.0.0", true),
        ("10.0.0.0/8", "10.255.255.255", true),
        ("10.0.0.0/8", "11.0.0.0", false),
        ("10.0.0.0/8", "9.255.255.255", false),
        ("10.0.0.0/8", "::ffff:10.1.2.3", true),  // IPv4 block matches mapped IPv6 peers
        ("10.0.0.0/8", "::a01:203", false),  // IPv4-compatible is not mapped
        ("10.0.0.0/8", "2001:db8::1", false),
        ("192.168.1.7", "192.168.1.7", true),
        ("192.168.1.7", "192.168.1.8", false),
        ("0.0.0.0/0", "203.0.113.9", true),
        ("0.0.0.0/0", "2001:db8::1", false),
        ("2001:db8::/32", "2001:db8:1234::1", true),
        ("2001:db8::/32", "2001:db9::1", false),
        ("2001:db8::/32", "10.0.0.1", false),
        ("::/0", "10.0.0.1", true),
        ("::/0", "::1", true),
        ("::1", "::1", true),
        ("::1", "::2", false),
        ("fe80::/10", "febf::1", true),
        ("fe80::/10", "fec0::1", false),
        ("172.16.0.0/12", "172.31.255.255", true),
        ("172.16.0.0/12", "172.32.0.0", false),
    ])
    func containment(block: String, address: String, expected: Bool) throws {
        let cidr = try #require(CIDR(block))
        let ip = try #require(IPAddress(address))
        #expect(cidr.contains(ip) == expected)
    }

    @Test func everyIPv4PrefixLengthMatchesItsBoundaries() throws {
        let address = try #require(IPAddress("203.0.113.77"))
        for length in 0...32 {
            let block = try #require(CIDR("203.0.113.77/\(length)"))
            #expect(block.contains(address))
            #expect(block.prefixLength128 == 96 + length)
        }
    }

    @Test func parsesTrustedProxyLists() throws {
        let blocks = try CIDR.parseList(" 10.0.0.0/8,2001:db8::/32 ,, 127.0.0.1\t")
        #expect(blocks.map(\.description) == ["10.0.0.0/8", "2001:db8::/32", "127.0.0.1/32"])
        #expect(try CIDR.parseList("").isEmpty)
        #expect(throws: CIDRError.invalid("10.0.0.0/33")) { try CIDR.parseList("10.0.0.0/8, 10.0.0.0/33") }
    }
}
