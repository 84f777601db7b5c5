import Foundation
import PostgresNIO
import Synchronization

/// The work did not finish in time.
public struct DeadlineExceeded: Error, Sendable, CustomStringConvertible {
    public init() {}
    public var description: String { "deadline exceeded" }
}

/// Runs `body` and returns its result, or throws `DeadlineExceeded` after `seconds` WITHOUT waiting
/// for `body` to end: a query written to a connection the server has just closed never completes
/// in PostgresNIO 1.33 (vapor/postgres-nio#487, fixed then reverted in #501), and a task group would
/// wait for it forever. On timeout `body` is cancelled and left to end on its own.
public func withDeadline<T: Sendable>(seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let race = Race<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            race.start(continuation, seconds: seconds, body)
        }
    } onCancel: {
        race.finish(.failure(CancellationError()))
    }
}

/// First result wins: the body's, the timer's, or cancellation's; the losers are cancelled.
private final class Race<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var finished: Result<T, any Error>?
        var tasks: [Task<Void, Never>] = []
    }
    private let state = Mutex(State())

    func start(_ continuation: CheckedContinuation<T, any Error>, seconds: Double, _ body: @escaping @Sendable () async throws -> T) {
        let early: Result<T, any Error>? = state.withLock { s in
            if let f = s.finished { return f }
            s.continuation = continuation
            return nil
        }
        if let early { return continuation.resume(with: early) }
        let work = Task {
            do { self.finish(.success(try await body())) } catch { self.finish(.failure(error)) }
        }
        let timer = Task {
            try? await Task.sleep(nanoseconds: UInt64(max(0, seconds) * 1e9))
            if !Task.isCancelled { self.finish(.failure(DeadlineExceeded())) }
        }
        let done = state.withLock { s in
            s.tasks = [work, timer]
            return s.continuation == nil
        }
        if done {
            work.cancel()
            timer.cancel()
        }
    }

    func finish(_ result: Result<T, any Error>) {
        let (continuation, tasks): (CheckedContinuation<T, any Error>?, [Task<Void, Never>]) = state.withLock { s in
            guard s.finished == nil else { return (nil, []) }
            s.finished = result
            defer { s.continuation = nil }
            return (s.continuation, s.tasks)
        }
        guard let continuation else { return }
        continuation.resume(with: result)
        for t in tasks { t.cancel() }
    }
}

/// Whether an error means the database cannot be reached now (connection lost, server restarting
/// or shutting down, pool gone, too slow): the caller answers 503 and may retry later.
public func isDatabaseUnavailable(_ error: any Error) -> Bool {
    // A request cancelled (its deadline passed, its client left) says nothing about the database.
    if Task.isCancelled || error is CancellationError { return false }
    if error is DeadlineExceeded { return true }
    if let e = error as? PSQLError {
        switch e.code {
        case .serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown, .poolClosed,
            .sslUnsupported, .failedToAddSSLHandler:
            return true
        case .server:
            // Class 08: connection exceptions; 57P01–03: admin shutdown, crash shutdown, cannot connect now
            // (not 57014, a statement timeout or cancel, which is about the query, not the server).
            let state = e.serverInfo?[.sqlState] ?? ""
            return state.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(state)
        default:
            return false
        }
    }
    // The pool's own errors (shut down, circuit breaker open), except a cancelled lease request.
    let text = String(reflecting: error)
    return String(reflecting: type(of: error)).contains("ConnectionPoolError") && !text.contains("requestCancelled")
}
