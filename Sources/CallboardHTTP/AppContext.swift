import CallboardServices
import Hummingbird
import Logging
import NIOCore

/// Per-request context: Hummingbird's core storage plus who is calling.
public struct AppContext: RequestContext, RemoteAddressRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var principal: Principal?
    /// The peer: the client, or the proxy in front (see `ClientAddress`).
    public var remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        principal = nil
        remoteAddress = source.channel.remoteAddress
    }

    /// Bodies over 1 MB are refused with 413 before they are read further.
    public var maxUploadSize: Int { 1_048_576 }

    /// The authenticated caller; routes behind `AuthMiddleware` always have one.
    public func caller() throws -> Principal {
        guard let p = principal else { throw Problem.unauthorized("Send Authorization: Bearer <token>") }
        return p
    }
}
