import Testing

@testable import Auth

@Suite struct ClientAddressTests {
    let proxies = [CIDR("10.0.0.0/8"), CIDR("2001:db8::/32"), CIDR("192.0.2.1")].compactMap { $0 }

    func resolve(_ peer: String, _ forwardedFor: [String]) -> String {
        ClientAddress.resolve(peer: peer, forwardedFor: forwardedFor, trustedProxies: proxies)
    }

    @Test func untrustedPeerIgnoresForwardedFor() {
        #expect(resolve("203.0.113.5", ["198.51.100.1"]) == "203.0.113.5")
        #expect(resolve("2001:db9::1", ["198.51.100.1"]) == "2001:db9::1")
    }

    @Test func noProxiesConfiguredMeansThePeer() {
        #expect(ClientAddress.resolve(peer: "10.0.0.1", forwardedFor: ["1.1.1.1"], trustedProxies: []) == "10.0.0.1")
    }

    @Test func trustedPeerWithoutHeaderIsThePeer() {
        #expect(resolve("10.0.0.1", []) == "10.0.0.1")
        #expect(resolve("10.0.0.1", [""]) == "10.0.0.1")
        #expect(resolve("10.0.0.1", [" , "]) == "10.0.0.1")
    }

    @Test func trustedPeerTakesTheRightmostUntrustedEntry() {
        #expect(resolve("10.0.0.1", ["198.51.100.1"]) == "198.51.100.1")
        #expect(resolve("10.0.0.1", ["1.1.1.1, 198.51.100.1, 10.0.0.2"]) == "198.51.100.1")
        #expect(resolve("10.0.0.1", ["1.1.1.1,198.51.100.1,10.0.0.2,192.0.2.1"]) == "198.51.100.1")
    }

    @Test func multipleHeaderValuesFormOneListInOrder() {
        #expect(resolve("10.0.0.1", ["1.1.1.1", "198.51.100.1, 10.9.9.9"]) == "198.51.100.1")
        #expect(resolve("10.0.0.1", ["198.51.100.1, 10.9.9.9", "10.1.1.1"]) == "198.51.100.1")
    }

    @Test func allTrustedUsesTheLeftmost() {
        #expect(resolve("10.0.0.1", ["10.0.0.3, 10.0.0.2"]) == "10.0.0.3")
    }

    @Test func unparsableEntryStopsTheWalk() {
        // Right of the garbage is a trusted proxy: the last good address seen.
        #expect(resolve("10.0.0.1", ["1.1.1.1, garbage, 10.0.0.2"]) == "10.0.0.2")
        // Garbage is the rightmost entry: the peer.
        #expect(resolve("10.0.0.1", ["1.1.1.1, unknown"]) == "10.0.0.1")
        // An untrusted address right of the garbage is found before it.
        #expect(resolve("10.0.0.1", ["garbage, 198.51.100.1"]) == "198.51.100.1")
    }

    @Test func ipv6AndMappedPeers() {
        #expect(resolve("2001:db8::5", ["2001:db9::7"]) == "2001:db9::7")
        #expect(resolve("::ffff:10.0.0.1", ["198.51.100.1"]) == "198.51.100.1")
        #expect(resolve("::ffff:203.0.113.1", ["198.51.100.1"]) == "203.0.113.1")
        #expect(resolve("10.0.0.1", ["::ffff:198.51.100.1"]) == "198.51.100.1")
        #expect(resolve("10.0.0.1", ["2001:DB9:0::1"]) == "2001:db9::1")
    }

    @Test func entriesWithPortsAndBrackets() {
        #expect(resolve("10.0.0.1", ["198.51.100.1:4711"]) == "198.51.100.1")
        #expect(resolve("10.0.0.1", ["[2001:db9::1]:443"]) == "2001:db9::1")
        #expect(resolve("10.0.0.1", ["[2001:db9::1]"]) == "2001:db9::1")
        #expect(resolve("10.0.0.1", ["[198.51.100.1]"]) == "10.0.0.1")  // brackets are for IPv6
        #expect(resolve("10.0.0.1", ["198.51.100.1:"]) == "10.0.0.1")
        #expect(resolve("10.0.0.1", ["[2001:db9::1]:x"]) == "10.0.0.1")
    }

    @Test func spacesAndTabsAreTrimmed() {
        #expect(resolve("10.0.0.1", [" \t198.51.100.1 \t, 10.0.0.2 "]) == "198.51.100.1")
    }

    @Test func peerIsCanonicalizedOrKeptWhenUnparsable() {
        #expect(resolve("2001:DB9:0:0::1", []) == "2001:db9::1")
        #expect(resolve("not-an-ip", ["1.1.1.1"]) == "not-an-ip")
    }
}
