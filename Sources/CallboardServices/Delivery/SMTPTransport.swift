import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL

public struct SMTPSettings: Sendable {
    public enum Security: String, Sendable, CaseIterable {
        /// Plain connection upgraded with STARTTLS (port 587); refuses to continue without it.
        case starttls
        /// TLS from the first byte (port 465).
        case tls
        /// No encryption: only for a relay on the same host or tests.
        case none
    }

    public var host: String
    public var port: Int
    public var security: Security
    public var username: String?
    public var password: String?
    /// A PEM file of CA certificates to trust instead of the system's (a private relay's CA).
    public var caFile: String?
    public var timeout: TimeAmount
    public var heloName: String

    public init(
        host: String, port: Int, security: Security = .starttls, username: String? = nil, password: String? = nil,
        caFile: String? = nil, timeout: TimeAmount = .seconds(30), heloName: String = "callboard.local"
    ) {
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self.password = password
        self.caFile = caFile
        self.timeout = timeout
        self.heloName = heloName
    }
}

/// SMTP on SwiftNIO: STARTTLS or implicit TLS, AUTH PLAIN/LOGIN, timeouts, dot-stuffing, and
/// idle connections kept for the next message. 4xx replies are temporary, 5xx permanent; a
/// connection lost after the message was handed over is temporary too — the resend carries the
/// same Message-ID, so the receiving side can recognise the duplicate.
public final class SMTPTransport: EmailTransport, Sendable {
    public let settings: SMTPSettings
    let group: any EventLoopGroup
    let logger: Logger
    private let idle = IdlePool()
    public var name: String { "smtp" }

    public init(settings: SMTPSettings, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, logger: Logger) {
        self.settings = settings
        self.group = group
        self.logger = logger
    }

    public func send(_ email: OutgoingEmail) async throws(DeliveryError) {
        // A reused connection may have been closed by the server while idle: such a failure before
        // the message is handed over is retried once on a fresh connection.
        if let conn = await idle.take() {
            do {
                try await transmit(email, on: conn)
                await idle.put(conn)
                return
            } catch let e as SMTPFailure where !e.handedOver && e.reply == nil {
                conn.close()
            } catch let e as SMTPFailure {
                conn.close()
                throw e.deliveryError
            } catch {
                conn.close()
            }
        }
        let conn: SMTPConnection
        do { conn = try await open() } catch let e as SMTPFailure { throw e.deliveryError } catch {
            throw .temporary("cannot connect to \(settings.host):\(settings.port): \(error)")
        }
        do {
            try await transmit(email, on: conn)
            await idle.put(conn)
        } catch let e as SMTPFailure {
            conn.close()
            throw e.deliveryError
        } catch {
            conn.close()
            throw .temporary(String(describing: error))
        }
    }

    public func shutdown() async {
        for c in await idle.drain() {
            _ = try? await c.command("QUIT", timeout: .seconds(2))
            c.close()
        }
    }

    private func transmit(_ email: OutgoingEmail, on c: SMTPConnection) async throws {
        let t = settings.timeout
        try await c.expect(c.command("MAIL FROM:<\(MIMEMessage.address(email.from))>", timeout: t), 250, stage: "MAIL FROM")
        let rcpt = try await c.command("RCPT TO:<\(email.to)>", timeout: t)
        guard rcpt.code == 250 || rcpt.code == 251 else {
            throw SMTPFailure(stage: "RCPT TO", reply: rcpt, handedOver: false, badAddress: rcpt.code >= 500)
        }
        try await c.expect(c.command("DATA", timeout: t), 354, stage: "DATA")
        let body = MIMEMessage.dotStuffed(MIMEMessage.render(email))
        let final: SMTPReply
        do {
            final = try await c.command(body + "\r\n.", timeout: t)
        } catch var e as SMTPFailure {
            e.handedOver = true  // the message may have arrived: the outcome is unknown
            throw e
        }
        guard final.code == 250 else { throw SMTPFailure(stage: "end of DATA", reply: final, handedOver: true, badAddress: false) }
    }

    private func open() async throws -> SMTPConnection {
        let s = settings
        let tls = try makeTLSContext()
        let host = s.host
        // The reply stream exists before the connection does, so the greeting cannot be missed.
        let (replies, continuation) = AsyncThrowingStream<SMTPReply, any Error>.makeStream()
        let decoder = SMTPReplyDecoder(continuation)
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(s.timeout)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if s.security == .tls {
                        try channel.pipeline.syncOperations.addHandler(
                            NIOSSLClientHandler(context: tls, serverHostname: host.isIPAddress ? nil : host))
                    }
                    try channel.pipeline.syncOperations.addHandler(decoder)
                }
            }
        let channel = try await bootstrap.connect(host: s.host, port: s.port).get()
        let conn = SMTPConnection(channel: channel, replies: replies, decoder: decoder)
        do {
            try await conn.expect(conn.readReply(timeout: s.timeout), 220, stage: "greeting")
            var ehlo = try await conn.command("EHLO \(s.heloName)", timeout: s.timeout)
            try conn.expect(ehlo, 250, stage: "EHLO")
            if s.security == .starttls {
                guard ehlo.lines.contains(where: { $0.uppercased().hasPrefix("STARTTLS") }) else {
                    throw SMTPFailure(stage: "STARTTLS", message: "the server does not offer STARTTLS")
                }
                try await conn.expect(conn.command("STARTTLS", timeout: s.timeout), 220, stage: "STARTTLS")
                try await conn.startTLS(context: tls, serverHostname: host.isIPAddress ? nil : host)
                ehlo = try await conn.command("EHLO \(s.heloName)", timeout: s.timeout)
                try conn.expect(ehlo, 250, stage: "EHLO after STARTTLS")
            }
            if let user = s.username {
                guard s.security != .none else { throw SMTPFailure(stage: "AUTH", message: "refusing to send a password without TLS") }
                let mechanisms = ehlo.lines.first { $0.uppercased().hasPrefix("AUTH") }?.uppercased().split(separator: " ").map(String.init) ?? []
                let password = s.password ?? ""
                if mechanisms.contains("PLAIN") {
                    let token = Data("\0\(user)\0\(password)".utf8).base64EncodedString()
                    try await conn.expect(conn.command("AUTH PLAIN \(token)", timeout: s.timeout, secret: true), 235, stage: "AUTH PLAIN")
                } else if mechanisms.contains("LOGIN") {
                    try await conn.expect(conn.command("AUTH LOGIN", timeout: s.timeout), 334, stage: "AUTH LOGIN")
                    try await conn.expect(
                        conn.command(Data(user.utf8).base64EncodedString(), timeout: s.timeout, secret: true), 334, stage: "AUTH LOGIN user")
                    try await conn.expect(
                        conn.command(Data(password.utf8).base64EncodedString(), timeout: s.timeout, secret: true), 235, stage: "AUTH LOGIN password")
                } else {
                    throw SMTPFailure(stage: "AUTH", message: "the server offers neither AUTH PLAIN nor AUTH LOGIN")
                }
            }
            return conn
        } catch {
            conn.close()
            throw error
        }
    }

    private func makeTLSContext() throws -> NIOSSLContext {
        var config = TLSConfiguration.makeClientConfiguration()
        if let ca = settings.caFile {
            config.trustRoots = .file(ca)
        }
        return try NIOSSLContext(configuration: config)
    }
}

extension String {
    var isIPAddress: Bool {
        (try? SocketAddress(ipAddress: self, port: 0)) != nil
    }
}

/// Connections waiting for the next message.
private actor IdlePool {
    private var connections: [SMTPConnection] = []
    func take() -> SMTPConnection? { connections.popLast() }
    func put(_ c: SMTPConnection) { if connections.count < 8 { connections.append(c) } else { c.close() } }
    func drain() -> [SMTPConnection] {
        defer { connections = [] }
        return connections
    }
}

struct SMTPReply: Sendable, Equatable {
    var code: Int
    var lines: [String]
    var text: String { lines.joined(separator: " ") }
}

struct SMTPFailure: Error {
    var stage: String
    var reply: SMTPReply?
    var message: String?
    var handedOver = false
    var badAddress = false

    init(stage: String, reply: SMTPReply? = nil, handedOver: Bool = false, badAddress: Bool = false) {
        self.stage = stage
        self.reply = reply
        self.handedOver = handedOver
        self.badAddress = badAddress
    }

    init(stage: String, message: String) {
        self.stage = stage
        self.message = message
    }

    /// More than the 220 reply to STARTTLS arrived before TLS began.
    static let plaintextAfterSTARTTLS = SMTPFailure(
        stage: "STARTTLS", message: "the server sent more than its 220 reply before TLS began (a reply injected in plaintext?): refused")

    var deliveryError: DeliveryError {
        let text = "\(stage): " + (reply.map { "\($0.code) \($0.text)" } ?? message ?? "connection lost")
        if let code = reply?.code, (500..<600).contains(code) { return .permanent(text, badAddress: badAddress) }
        return .temporary(text)
    }
}

/// One SMTP session: writes commands, reads replies (multi-line aware) from the decoder's stream.
final class SMTPConnection: Sendable {
    let channel: any Channel
    private let replies: AsyncThrowingStream<SMTPReply, any Error>
    private let iterator: IteratorBox
    private let decoder: SMTPReplyDecoder

    init(channel: any Channel, replies: AsyncThrowingStream<SMTPReply, any Error>, decoder: SMTPReplyDecoder) {
        self.channel = channel
        self.replies = replies
        self.decoder = decoder
        iterator = IteratorBox(replies.makeAsyncIterator())
    }

    func command(_ line: String, timeout: TimeAmount, secret: Bool = false) async throws -> SMTPReply {
        var buffer = channel.allocator.buffer(capacity: line.utf8.count + 2)
        buffer.writeString(line)
        buffer.writeString("\r\n")
        let stage = secret ? "AUTH" : String(line.prefix(10))
        // A write waits in the TLS handler until the handshake ends, so the timeout covers it too.
        let written = channel.eventLoop.makePromise(of: Void.self)
        channel.writeAndFlush(buffer, promise: written)
        let iterator = self.iterator
        return try await bounded(timeout) {
            do { try await written.futureResult.get() } catch { throw SMTPFailure(stage: stage, message: "write failed: \(error)") }
            return try await iterator.next()
        }
    }

    func readReply(timeout: TimeAmount) async throws -> SMTPReply {
        let iterator = self.iterator
        return try await bounded(timeout) { try await iterator.next() }
    }

    /// Runs `body` for at most `timeout`. Past it the connection is closed, which also ends a write
    /// still waiting (a future's wait cannot be cancelled otherwise).
    private func bounded(_ timeout: TimeAmount, _ body: @escaping @Sendable () async throws -> SMTPReply?) async throws -> SMTPReply {
        let channel = self.channel
        return try await withThrowingTaskGroup(of: SMTPReply?.self) { group in
            group.addTask(operation: body)
            group.addTask {
                try await Task.sleep(nanoseconds: UInt64(timeout.nanoseconds))
                return nil
            }
            defer { group.cancelAll() }
            guard let first = try await group.next(), let reply = first else {
                channel.close(promise: nil)
                throw SMTPFailure(stage: "reply", message: "no reply within \(timeout.nanoseconds / 1_000_000_000) s")
            }
            return reply
        }
    }

    func expect(_ reply: SMTPReply, _ code: Int, stage: String) throws {
        guard reply.code == code else { throw SMTPFailure(stage: stage, reply: reply) }
    }

    /// Adds TLS once the 220 reply to STARTTLS has been read. Anything else already received came in
    /// plaintext, where anyone on the path could have written it (a reply injected after the 220 would
    /// otherwise be taken as the server's first reply over TLS): the upgrade is refused. The check and
    /// the upgrade run in one event-loop turn, so nothing can arrive between them; whatever arrives
    /// later goes through TLS and fails its handshake.
    func startTLS(context: NIOSSLContext, serverHostname: String?) async throws {
        let decoder = self.decoder
        let consumed = iterator.consumed
        let channel = self.channel
        try await channel.eventLoop.submit {
            guard decoder.yielded == consumed, !decoder.hasPartialInput else { throw SMTPFailure.plaintextAfterSTARTTLS }
            try channel.pipeline.syncOperations.addHandler(
                try NIOSSLClientHandler(context: context, serverHostname: serverHostname), position: .first)
        }.get()
    }

    func close() {
        channel.close(promise: nil)
    }
}

/// The stream iterator, shared by the connection's sequential readers.
private final class IteratorBox: @unchecked Sendable {
    private var iterator: AsyncThrowingStream<SMTPReply, any Error>.AsyncIterator
    /// Replies read so far (compared with the decoder's count before STARTTLS).
    private(set) var consumed = 0
    init(_ i: AsyncThrowingStream<SMTPReply, any Error>.AsyncIterator) { iterator = i }
    func next() async throws -> SMTPReply? {
        guard let r = try await iterator.next() else {
            throw SMTPFailure(stage: "reply", message: "connection closed by the server")
        }
        consumed += 1
        return r
    }
}

/// Splits the byte stream into CRLF lines and groups `250-…`/`250 …` lines into replies.
final class SMTPReplyDecoder: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    let continuation: AsyncThrowingStream<SMTPReply, any Error>.Continuation
    init(_ continuation: AsyncThrowingStream<SMTPReply, any Error>.Continuation) { self.continuation = continuation }
    private var pending = ""
    private var lines: [String] = []
    /// Replies passed on so far (read on the event loop).
    private(set) var yielded = 0
    /// A line that is no reply was skipped since the last reply.
    private var skippedSinceReply = false
    /// Input not (yet) passed on as a reply: part of a line or of a multi-line reply, or a line that
    /// is no reply, received since the last reply (read on the event loop).
    var hasPartialInput: Bool { !pending.isEmpty || !lines.isEmpty || skippedSinceReply }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var buffer = unwrapInboundIn(data)
        pending += buffer.readString(length: buffer.readableBytes) ?? ""
        while let range = pending.range(of: "\r\n") {
            let line = String(pending[..<range.lowerBound])
            pending.removeSubrange(..<range.upperBound)
            guard line.count >= 3, let code = Int(line.prefix(3)) else {
                skippedSinceReply = true
                continue
            }
            let more = line.count > 3 && line[line.index(line.startIndex, offsetBy: 3)] == "-"
            lines.append(line.count > 4 ? String(line.dropFirst(4)) : "")
            if !more {
                continuation.yield(SMTPReply(code: code, lines: lines))
                yielded += 1
                skippedSinceReply = false
                lines = []
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        continuation.finish()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        continuation.finish(throwing: SMTPFailure(stage: "connection", message: String(describing: error)))
        context.close(promise: nil)
    }
}
