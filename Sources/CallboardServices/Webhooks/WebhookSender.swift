import AsyncHTTPClient
import CallboardDomain
import Foundation
import NIOCore
import NIOPosix

#if canImport(Glibc)
    import Glibc
#elseif canImport(Darwin)
    import Darwin
#endif

/// One POST to a webhook target: the host is resolved here, every address it has is checked
/// against `AddressPolicy` (unless private targets are allowed), and the connection goes to the
/// checked address (the certificate is still verified for the host name). Redirects are not
/// followed; the whole exchange is bounded by the timeout.
public struct WebhookSender: Sendable {
    public var allowPrivate: Bool
    public var timeoutSeconds: Double

    public init(allowPrivate: Bool, timeoutSeconds: Double) {
        self.allowPrivate = allowPrivate
        self.timeoutSeconds = timeoutSeconds
    }

    public enum Result: Sendable, Equatable {
        case answered(status: Int)
        case failed(String)
    }

    public func post(_ raw: String, headers: [(String, String)], body: [UInt8]) async -> Result {
        guard let url = URL(string: raw), let host = url.host, !host.isEmpty, let scheme = url.scheme?.lowercased(),
            scheme == "https" || scheme == "http"
        else { return .failed("the URL cannot be used") }
        let bare = host.hasPrefix("[") ? String(host.dropFirst().dropLast()) : host
        let isLiteral = AddressPolicy.parseIPv4(bare) != nil || AddressPolicy.parseIPv6(bare) != nil
        let addresses: [String]
        if isLiteral {
            addresses = [bare]
        } else {
            do {
                addresses = try await Self.resolve(bare, port: url.port ?? (scheme == "https" ? 443 : 80))
            } catch {
                return .failed("cannot resolve \(bare): \(error)")
            }
        }
        guard let target = addresses.first else { return .failed("\(bare) has no address") }
        if !allowPrivate {
            for a in addresses {
                if let why = AddressPolicy.refusal(a) {
                    return .failed("refused: \(bare) resolves to \(a), which \(why); webhooks go only to public addresses")
                }
            }
        }
        var config = HTTPClient.Configuration(
            redirectConfiguration: .disallow,
            timeout: .init(connect: .milliseconds(Int64(timeoutSeconds * 1000)), read: .milliseconds(Int64(timeoutSeconds * 1000))))
        if !isLiteral {
            config.dnsOverride[bare] = target
            config.dnsOverride[bare.lowercased()] = target
        }
        config.decompression = .disabled
        let client = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: config)
        let result: Result
        do {
            var request = HTTPClientRequest(url: raw)
            request.method = .POST
            for (name, value) in headers { request.headers.add(name: name, value: value) }
            request.body = .bytes(ByteBuffer(bytes: body))
            let response = try await client.execute(request, timeout: .milliseconds(Int64(timeoutSeconds * 1000)))
            // The answer's body is not kept; at most 64 kB of it is read so the connection ends cleanly.
            _ = try? await response.body.collect(upTo: 65536)
            result = .answered(status: Int(response.status.code))
        } catch {
            result = .failed(Self.describe(error))
        }
        try? await client.shutdown()
        return result
    }

    static func describe(_ error: any Error) -> String {
        let text = String(describing: error)
        return text.count > 300 ? String(text.prefix(300)) + "…" : text
    }

    struct ResolveFailed: Error, CustomStringConvertible {
        var description: String
    }

    /// Every address `host` resolves to (numeric form), on NIO's blocking thread pool.
    static func resolve(_ host: String, port: Int) async throws -> [String] {
        try await NIOThreadPool.singleton.runIfActive {
            var hints = addrinfo()
            hints.ai_family = AF_UNSPEC
            #if canImport(Glibc)
                hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
            #else
                hints.ai_socktype = SOCK_STREAM
            #endif
            var list: UnsafeMutablePointer<addrinfo>?
            let rc = getaddrinfo(host, String(port), &hints, &list)
            guard rc == 0, let first = list else { throw ResolveFailed(description: String(cString: gai_strerror(rc))) }
            defer { freeaddrinfo(first) }
            var out: [String] = []
            var next: UnsafeMutablePointer<addrinfo>? = first
            while let a = next {
                var buffer = [CChar](repeating: 0, count: 1025)
                if getnameinfo(a.pointee.ai_addr, a.pointee.ai_addrlen, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST) == 0 {
                    let text = String(cString: buffer)
                    if !out.contains(text) { out.append(text) }
                }
                next = a.pointee.ai_next
            }
            return out
        }
    }
}
