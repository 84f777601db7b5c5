import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

@testable import CallboardServices

/// What a scripted SMTP server saw of its one client.
final class SMTPServerRecord: Sendable {
    let bytes = Mutex<[UInt8]>([])
    let closed = Mutex(false)

    var text: String { String(decoding: bytes.withLock { $0 }, as: UTF8.self) }

    /// Waits (at most 5 s) until the client has closed the connection.
    func waitUntilClosed() async throws -> Bool {
        for _ in 0..<500 {
            if closed.withLock({ $0 }) { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return false
    }
}

/// A plaintext SMTP server that offers STARTTLS and answers it with `afterSTARTTLS` in one write,
/// then only records what it receives (it speaks no TLS).
final class ScriptedSMTPHandler: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer
    let record: SMTPServerRecord
    let afterSTARTTLS: String
    private var text = ""
    private var upgrading = false

    init(record: SMTPServerRecord, afterSTARTTLS: String) {
        self.record = record
        self.afterSTARTTLS = afterSTARTTLS
    }

    private func write(_ s: String, context: ChannelHandlerContext) {
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: s)), promise: nil)
    }

    func channelActive(context: ChannelHandlerContext) {
        write("220 fake.test ESMTP\r\n", context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let buffer = unwrapInboundIn(data)
        let bytes = Array(buffer.readableBytesView)
        record.bytes.withLock { $0 += bytes }
        guard !upgrading else { return }
        text += String(decoding: bytes, as: UTF8.self)
        while !upgrading, let end = text.range(of: "\r\n") {
            let line = String(text[..<end.lowerBound])
            text.removeSubrange(..<end.upperBound)
            if line.uppercased().hasPrefix("EHLO") {
                write("250-fake.test\r\n250 STARTTLS\r\n", context: context)
            } else if line.uppercased() == "STARTTLS" {
                upgrading = true
                write(afterSTARTTLS, context: context)
            } else {
                write("502 5.5.2 Not in this script\r\n", context: context)
            }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        record.closed.withLock { $0 = true }
        context.fireChannelInactive()
    }
}

/// STARTTLS must not let plaintext written after the server's 220 (by the server or anyone on the
/// path, CVE-2011-0411 style) be read as a reply over TLS: the transport refuses the connection.
@Suite struct SMTPInjectionTests {
    /// Runs `body` against a scripted server on a loopback port.
    static func withServer<T: Sendable>(
        afterSTARTTLS: String, _ body: @Sendable (Int, SMTPServerRecord) async throws -> T
    ) async throws -> T {
        let record = SMTPServerRecord()
        let server = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(ScriptedSMTPHandler(record: record, afterSTARTTLS: afterSTARTTLS))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        do {
            let result = try await body(server.localAddress!.port!, record)
            try await server.close()
            return result
        } catch {
            try? await server.close()
            throw error
        }
    }

    enum Outcome: Equatable {
        case sent
        case failed(DeliveryError)
        /// Still sending after 10 s (the wait cannot be cancelled: the send is left running).
        case stillSending
    }

    /// How one send over STARTTLS (with `timeout`) to the server on `port` ends.
    static func send(port: Int, timeout: TimeAmount) async throws -> Outcome {
        let t = SMTPTransport(
            settings: SMTPSettings(host: "127.0.0.1", port: port, security: .starttls, timeout: timeout), logger: TestDatabase.logger)
        let result = OutcomeBox()
        Task {
            let e = await deliveryError { try await t.send(TestSMTP.email(to: "ada@dvla.gov.uk")) }
            await t.shutdown()
            result.value.withLock { $0 = e.map(Outcome.failed) ?? .sent }
        }
        for _ in 0..<1000 {
            if let o = result.value.withLock({ $0 }) { return o }
            try await Task.sleep(for: .milliseconds(10))
        }
        return .stillSending
    }

    final class OutcomeBox: Sendable {
        let value = Mutex<Outcome?>(nil)
    }

    @Test(arguments: [
        "250 2.0.0 injected\r\n",  // a whole reply after the 220
        "250-injected\r\n",  // the start of a multi-line reply
        "250 inj",  // part of a line
        "not a reply\r\n",  // a line that is no reply at all
    ])
    func aReplyInjectedAfterTheGoAheadIsRefused(injected: String) async throws {
        try await Self.withServer(afterSTARTTLS: "220 2.0.0 Go ahead\r\n" + injected) { port, record in
            let outcome = try await Self.send(port: port, timeout: .seconds(2))
            #expect(
                outcome
                    == .failed(
                        .temporary(
                            "STARTTLS: the server sent more than its 220 reply before TLS began (a reply injected in plaintext?): refused")))
            // Refused before TLS began: no handshake, no command after STARTTLS, and the connection closed.
            let closed = try await record.waitUntilClosed()
            #expect(closed)
            #expect(record.text == "EHLO callboard.local\r\nSTARTTLS\r\n")
        }
    }

    /// The control: a 220 alone is followed by the TLS handshake (which this server cannot finish).
    @Test func aCleanGoAheadStartsTheTLSHandshake() async throws {
        try await Self.withServer(afterSTARTTLS: "220 2.0.0 Go ahead\r\n") { port, record in
            // The EHLO waits for the handshake, within the timeout.
            let outcome = try await Self.send(port: port, timeout: .seconds(1))
            #expect(outcome == .failed(.temporary("reply: no reply within 1 s")))
            let closed = try await record.waitUntilClosed()
            #expect(closed)
            let plaintext = Array("EHLO callboard.local\r\nSTARTTLS\r\n".utf8)
            let bytes = record.bytes.withLock { $0 }
            #expect(Array(bytes.prefix(plaintext.count)) == plaintext)
            // 0x16 0x03: a TLS handshake record (the ClientHello) follows at once.
            #expect(Array(bytes.dropFirst(plaintext.count).prefix(2)) == [0x16, 0x03])
        }
    }
}
