import Foundation
import Synchronization

/// A fixed-window limit per key (in memory, per process): at most `limit` actions per `window`.
/// Answers how long to wait when over the limit.
final class RateLimiter: Sendable {
    let limit: Int
    let window: TimeInterval
    private let state = Mutex<[String: (start: Date, count: Int)]>([:])
    static let capacity = 50_000

    init(limit: Int, window: TimeInterval) {
        self.limit = limit
        self.window = window
    }

    /// nil: allowed (and counted); else the seconds until the window resets.
    func check(_ key: String, at now: Date) -> Int? {
        state.withLock { table in
            // Bounded memory: past the cap, finished windows are dropped; if it is still full, refuse.
            if table.count >= Self.capacity, table[key] == nil {
                table = table.filter { now.timeIntervalSince($0.value.start) < window }
                if table.count >= Self.capacity { return Int(window) }
            }
            var entry = table[key] ?? (now, 0)
            if now.timeIntervalSince(entry.start) >= window { entry = (now, 0) }
            guard entry.count < limit else { return max(1, Int((window - now.timeIntervalSince(entry.start)).rounded(.up))) }
            entry.count += 1
            table[key] = entry
            return nil
        }
    }
}
