import CallboardDomain
import Foundation

/// Who may apply at the front door, and whose `X-Forwarded-For` is believed.
public struct FrontDoorSettings: Sendable {
    public var emailDomains = [
        "gov.uk", "nhs.uk", "nhs.net", "police.uk", "mod.uk", "gov.scot", "gov.wales", "llyw.cymru", "nics.gov.uk",
    ]
    public var trustedProxies: Set<String> = []

    public init() {}

    public init(_ settings: Settings) {
        emailDomains = settings.applyEmailDomains
        trustedProxies = Set(settings.trustedProxies)
    }
}

/// The client address the front door's limits count: the peer, or, when the peer is a trusted
/// proxy, the nearest address in `X-Forwarded-For` that is not one (a client can write anything
/// to the left of what its proxies appended, so the list is read from the right).
public enum ClientAddress {
    public static func resolve(peer: String?, forwardedFor: String?, trusted: Set<String>) -> String {
        guard let peer, !peer.isEmpty else { return "unknown" }
        guard trusted.contains(peer), let header = forwardedFor else { return peer }
        for hop in header.split(separator: ",").reversed() {
            let address = hop.trimmingCharacters(in: .whitespaces).lowercased()
            guard isIPAddress(address) else { return peer }
            if !trusted.contains(address) { return address }
        }
        return peer
    }

    /// An IPv4 or IPv6 address in its usual text form.
    public static func isIPAddress(_ s: String) -> Bool {
        var v4 = in_addr()
        var v6 = in6_addr()
        return s.withCString { inet_pton(AF_INET, $0, &v4) == 1 || inet_pton(AF_INET6, $0, &v6) == 1 }
    }
}
