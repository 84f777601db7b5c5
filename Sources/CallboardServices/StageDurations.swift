import CallboardDomain
import Foundation
import Metrics
import Synchronization

/// `callboard_stage_duration_seconds{stage}`: how long a request spent in the stage it has just
/// left (docs/operations.md, "Metrics"). A swift-metrics `Recorder`, which the Prometheus factory
/// makes a histogram with `buckets` (HTTPMetrics.factory sets them).
public struct StageDurations: Sendable {
    public static let label = "callboard_stage_duration_seconds"
    /// 1 hour, 1, 2, 5, 10, 20, 40, 80 and 160 days, in seconds.
    public static let buckets: [Double] = [3600] + [1, 2, 5, 10, 20, 40, 80, 160].map { Double($0) * 86_400 }

    /// nil: the bootstrapped `MetricsSystem.factory` (`serve` bootstraps Prometheus).
    let factory: (any MetricsFactory)?

    public init(factory: (any MetricsFactory)? = nil) {
        self.factory = factory
    }

    public func record(_ span: StageSpan) {
        Recorder(label: Self.label, dimensions: [("stage", span.stage.rawValue)], factory: factory ?? MetricsSystem.factory)
            .record(max(0, span.seconds))
    }
}

/// A stretch a request spent in one stage, observed when it ended.
public struct StageSpan: Sendable, Equatable {
    public var stage: Stage
    public var seconds: Double
}

/// The spans ended by one command's transitions, recorded only once its transaction has committed.
final class StageSpans: Sendable {
    private let spans = Mutex<[StageSpan]>([])

    func add(_ span: StageSpan) { spans.withLock { $0.append(span) } }

    func record(to durations: StageDurations) {
        for span in spans.withLock({ $0 }) { durations.record(span) }
    }
}
