import CallboardDomain
import Testing

@Suite struct AddressPolicyTests {
    @Test(arguments: [
        "10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.255", "192.168.1.1", "127.0.0.1", "127.9.9.9", "169.254.169.254",
        "0.0.0.0", "0.1.2.3", "100.64.0.1", "100.127.255.255", "224.0.0.1", "255.255.255.255",
        "::1", "::", "fc00::1", "fd12:3456::1", "fe80::1", "febf::1", "ff02::1",
        "::ffff:127.0.0.1", "::ffff:10.1.2.3", "::ffff:7f00:1", "::ffff:169.254.169.254", "::127.0.0.1", "64:ff9b::a00:1",
        "[::1]", "not-an-address", "1.2.3", "01.2.3.4", "fe80::1%eth0",
    ])
    func refused(_ address: String) {
        #expect(AddressPolicy.refusal(address) != nil, "\(address) should be refused")
    }

    @Test(arguments: [
        "93.184.216.34", "8.8.8.8", "172.32.0.1", "172.15.255.255", "100.128.0.1", "192.169.0.1", "2606:4700::1111", "::ffff:8.8.8.8", "2001:db8::1",
    ])
    func allowed(_ address: String) {
        #expect(AddressPolicy.refusal(address) == nil, "\(address) should be allowed")
    }

    @Test func reasonsNameTheRange() {
        #expect(AddressPolicy.refusal("10.1.2.3") == "is private (10.0.0.0/8)")
        #expect(AddressPolicy.refusal("::ffff:127.0.0.1") == "is IPv4-mapped and loopback (127.0.0.0/8)")
        #expect(AddressPolicy.refusal("fe80::1") == "is link-local (fe80::/10)")
        #expect(AddressPolicy.parseIPv6("::ffff:7f00:1") == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0x7f, 0, 0, 1])
    }
}
