import ArgumentParser
import AsyncHTTPClient
import CallboardServices
import Foundation
import NIOCore

/// `callboard health`: asks a running server whether it is ready, for container health checks
/// (the runtime image has no curl or wget). Exit 0 when the URL answers 200 within the timeout,
/// 1 otherwise; one line either way. It needs no database and reads no setting but the listen
/// address, so it works wherever `serve` runs.
struct HealthCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "health",
        abstract: "Check that a running server answers 200 (exit 0) or not (exit 1); for container health checks.")

    @Option(help: "The address to ask (default: http://127.0.0.1:$CALLBOARD_PORT/health/ready, the port defaulting to 8080)")
    var url: String?

    @Option(help: "Seconds to wait for the answer")
    var timeout: Double = 2

    func validate() throws {
        guard timeout > 0, timeout <= 3600 else { throw ValidationError("--timeout must be more than 0 and at most 3600 seconds") }
        if let url, !(url.hasPrefix("http://") || url.hasPrefix("https://")) {
            throw ValidationError("--url must be an http:// or https:// URL")
        }
    }

    func run() async throws {
        guard let target = url ?? Self.defaultURL(environment: ProcessInfo.processInfo.environment) else {
            Self.fail("unhealthy: CALLBOARD_PORT is not a whole number from 1 to 65535; pass --url")
            throw ExitCode.failure
        }
        var request = HTTPClientRequest(url: target)
        request.headers.add(name: "User-Agent", value: "callboard-health")
        let (deadline, probe) = (timeout, request)
        do {
            // The client's deadline covers the answer's head; the race bounds the body too.
            let status = try await withThrowingTaskGroup(of: UInt.self) { group in
                group.addTask {
                    let response = try await HTTPClient.shared.execute(probe, timeout: .milliseconds(Int64(deadline * 1000)))
                    // Read a little of the body so the connection is not reset mid-response; its contents do not matter.
                    _ = try? await response.body.collect(upTo: 64 << 10)
                    return response.status.code
                }
                group.addTask {
                    try await Task.sleep(for: .milliseconds(Int64(deadline * 1000)))
                    throw HealthTimeout()
                }
                defer { group.cancelAll() }
                return try await group.next()!
            }
            if status == 200 {
                print("healthy: \(target) answered 200")
                return
            }
            Self.fail("unhealthy: \(target) answered \(status)")
        } catch is HealthTimeout {
            Self.fail("unhealthy: \(target) gave no answer within \(Self.seconds(timeout)) s")
        } catch {
            Self.fail("unhealthy: \(target) gave no answer within \(Self.seconds(timeout)) s (\(error))")
        }
        throw ExitCode.failure
    }

    /// `http://HOST:PORT/health/ready` from `CALLBOARD_PORT` (read with the catalog's own rules)
    /// and `CALLBOARD_HOSTNAME` (loopback when it is a wildcard address); nil when the port is not valid.
    static func defaultURL(environment: [String: String]) -> String? {
        var port = Settings().port
        if let raw = environment["CALLBOARD_PORT"], !raw.isEmpty {
            do { port = try SettingKind<Int>.int(1...65535).parse(raw) } catch { return nil }
        }
        let configured = environment["CALLBOARD_HOSTNAME"] ?? ""
        let host: String
        switch configured {
        case "", "0.0.0.0", "::", "[::]": host = "127.0.0.1"
        default: host = configured.contains(":") && !configured.hasPrefix("[") ? "[\(configured)]" : configured
        }
        return "http://\(host):\(port)/health/ready"
    }

    private static func fail(_ line: String) {
        // One line, whatever the error's description holds.
        let flat = line.split(whereSeparator: \.isNewline).joined(separator: " ")
        FileHandle.standardError.write(Data((flat + "\n").utf8))
    }

    private static func seconds(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(value)
    }
}

private struct HealthTimeout: Error {}
