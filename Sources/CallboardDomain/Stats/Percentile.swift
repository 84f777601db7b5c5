/// Percentiles of a distribution given as values and how often each occurs, interpolated as
/// PostgreSQL's `percentile_cont` does: position p × (n − 1) in the sorted values.
public enum Percentile {
    public static func continuous(_ distribution: [(value: Double, count: Int)], _ p: Double) -> Double? {
        let sorted = distribution.filter { $0.count > 0 }.sorted { $0.value < $1.value }
        let n = sorted.reduce(0) { $0 + $1.count }
        guard n > 0 else { return nil }
        let position = p * Double(n - 1)
        let lower = Int(position.rounded(.down))
        func value(at index: Int) -> Double {
            var seen = 0
            for entry in sorted {
                seen += entry.count
                if index < seen { return entry.value }
            }
            return sorted[sorted.count - 1].value
        }
        let a = value(at: lower)
        let b = value(at: min(lower + 1, n - 1))
        return a + (b - a) * (position - Double(lower))
    }
}
