import Foundation

/// Charts drawn on the server as inline SVG: no JavaScript, no inline styles (the pages' CSP
/// allows only the site's stylesheet, which colours the `chart-*` classes). Each chart is an image
/// named by its title and described as "the table below gives the numbers": the table that
/// follows it on the page is the accessible version.
enum SVGChart {
    static let width = 720.0
    static let left = 56.0
    static let right = 12.0
    static let top = 16.0

    struct Series {
        var name: String
        var cssClass: String
        var values: [Double]
    }

    /// Vertical bars per month (grouped when there are several series), with a y axis of whole numbers
    /// or, with `percent`, 0 to 100 %.
    static func bars(id: String, title: String, labels: [String], series: [Series], percent: Bool = false) -> String {
        let height = 240.0
        let bottom = 44.0
        let plotH = height - Self.top - bottom
        let plotW = width - left - right
        let maxValue = percent ? 1.0 : max(1, series.flatMap(\.values).max() ?? 1)
        let ticks = percent ? [0, 0.25, 0.5, 0.75, 1] : niceTicks(maxValue)
        let axisMax = ticks.last ?? maxValue
        var out = open(id: id, title: title, height: height)
        for t in ticks {
            let y = Self.top + plotH - plotH * t / axisMax
            out += line(left, y, width - right, y, "chart-grid")
            out += text(left - 6, y + 4, percent ? "\(Int((t * 100).rounded()))%" : number(t), anchor: "end", cls: "chart-axis")
        }
        let slot = plotW / Double(max(labels.count, 1))
        let barW = max(2, (slot * 0.7) / Double(max(series.count, 1)))
        for (i, label) in labels.enumerated() {
            let x0 = left + slot * Double(i) + slot * 0.15
            for (k, s) in series.enumerated() where i < s.values.count {
                let h = plotH * s.values[i] / axisMax
                out += rect(x0 + barW * Double(k), Self.top + plotH - h, barW, h, s.cssClass)
            }
            // Every label when they fit, else every other one.
            if labels.count <= 12 || i % 2 == 0 {
                out += text(left + slot * (Double(i) + 0.5), Self.top + plotH + 16, label, anchor: "middle", cls: "chart-axis")
            }
        }
        out += line(left, Self.top + plotH, width - right, Self.top + plotH, "chart-axis-line")
        if series.count > 1 { out += legend(series.map { ($0.name, $0.cssClass) }, y: height - 12) }
        return out + "</svg>"
    }

    /// One horizontal bar split by share (0 to 1), labelled with each part's percentage below.
    static func stacked(id: String, title: String, parts: [(label: String, share: Double, cssClass: String)]) -> String {
        let height = 120.0
        let plotW = width - 24
        var out = open(id: id, title: title, height: height)
        var x = 12.0
        for p in parts where p.share > 0 {
            let w = plotW * p.share
            out += rect(x, 12, w, 36, p.cssClass)
            if w > 36 { out += text(x + w / 2, 35, "\(Int((p.share * 100).rounded()))%", anchor: "middle", cls: "chart-on-bar") }
            x += w
        }
        out += legend(parts.map { ($0.label, $0.cssClass) }, y: 76, perRow: 3)
        return out + "</svg>"
    }

    /// A row per measure: a line from 0 to the 90th percentile with a dot at the median.
    static func ranges(id: String, title: String, rows: [(label: String, median: Double?, p90: Double?)], unit: String) -> String {
        let rowH = 30.0
        let labelW = 250.0
        let height = Self.top + rowH * Double(rows.count) + 36
        let plotW = width - labelW - right
        let maxValue = max(1, rows.compactMap(\.p90).max() ?? 1)
        let ticks = niceTicks(maxValue)
        let axisMax = ticks.last ?? maxValue
        var out = open(id: id, title: title, height: height)
        let axisY = Self.top + rowH * Double(rows.count)
        for t in ticks {
            let x = labelW + plotW * t / axisMax
            out += line(x, Self.top, x, axisY, "chart-grid")
            out += text(x, axisY + 16, number(t), anchor: "middle", cls: "chart-axis")
        }
        out += text(labelW + plotW / 2, axisY + 32, unit, anchor: "middle", cls: "chart-axis")
        for (i, r) in rows.enumerated() {
            let y = Self.top + rowH * (Double(i) + 0.5)
            out += text(labelW - 8, y + 4, r.label, anchor: "end", cls: "chart-axis")
            if let p = r.p90 { out += line(labelW, y, labelW + plotW * p / axisMax, y, "chart-range") }
            if let m = r.median { out += "<circle class=\"chart-median\" cx=\"\(f(labelW + plotW * m / axisMax))\" cy=\"\(f(y))\" r=\"6\"/>" }
        }
        return out + "</svg>"
    }

    // MARK: - Pieces

    private static func open(id: String, title: String, height: Double) -> String {
        "<svg class=\"chart\" viewBox=\"0 0 \(f(width)) \(f(height))\" role=\"img\" aria-labelledby=\"\(id)-title \(id)-desc\" "
            + "xmlns=\"http://www.w3.org/2000/svg\"><title id=\"\(id)-title\">\(escape(title))</title>"
            + "<desc id=\"\(id)-desc\">The table below the chart gives the same numbers.</desc>"
    }

    private static func legend(_ items: [(String, String)], y: Double, perRow: Int = 4) -> String {
        var out = ""
        let colW = (width - left) / Double(perRow)
        for (i, item) in items.enumerated() {
            let x = 12 + colW * Double(i % perRow)
            let yy = y + Double(i / perRow) * 18
            out += rect(x, yy - 10, 12, 12, item.1) + text(x + 18, yy, item.0, anchor: "start", cls: "chart-axis")
        }
        return out
    }

    private static func rect(_ x: Double, _ y: Double, _ w: Double, _ h: Double, _ cls: String) -> String {
        "<rect class=\"\(cls)\" x=\"\(f(x))\" y=\"\(f(y))\" width=\"\(f(w))\" height=\"\(f(max(h, 0)))\"/>"
    }

    private static func line(_ x1: Double, _ y1: Double, _ x2: Double, _ y2: Double, _ cls: String) -> String {
        "<line class=\"\(cls)\" x1=\"\(f(x1))\" y1=\"\(f(y1))\" x2=\"\(f(x2))\" y2=\"\(f(y2))\"/>"
    }

    private static func text(_ x: Double, _ y: Double, _ s: String, anchor: String, cls: String) -> String {
        "<text class=\"\(cls)\" x=\"\(f(x))\" y=\"\(f(y))\" text-anchor=\"\(anchor)\">\(escape(s))</text>"
    }

    /// Round tick values from 0 to at least `maxValue`: steps of 1, 2 or 5 times a power of ten.
    static func niceTicks(_ maxValue: Double) -> [Double] {
        let rough = maxValue / 4
        let power = pow(10, floor(log10(max(rough, 1e-9))))
        let step = [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= rough } ?? rough
        let wholeStep = max(step, 1)  // counts and days: whole ticks
        var ticks: [Double] = []
        var t = 0.0
        while t < maxValue + wholeStep * 0.999 && ticks.count < 12 {
            ticks.append(t)
            t += wholeStep
        }
        return ticks
    }

    static func number(_ v: Double) -> String {
        v == v.rounded() ? String(Int(v)) : String(format: "%.1f", v)
    }

    private static func f(_ v: Double) -> String { String(format: "%.1f", v) }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
