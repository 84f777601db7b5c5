import Foundation

/// Where "now" comes from: the system clock in production, a settable one in tests.
public protocol TimeSource: Sendable {
    func now() -> Date
}

public struct SystemTime: TimeSource {
    public init() {}
    public func now() -> Date { Date() }
}
