import CallboardDomain
import Foundation
import Logging

/// One JSON object per line on stderr: time, level, label, message and metadata.
struct JSONLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        var object: [String: JSONValue] = [
            "time": .string(Timestamp.rfc3339(Date())),
            "level": .string(event.level.rawValue),
            "logger": .string(label),
            "message": .string(event.message.description),
        ]
        let merged = metadata.merging(event.metadata ?? [:]) { _, new in new }
        for (k, v) in merged { object[k] = Self.plain(v) }
        FileHandle.standardError.write(Data(JSONValue.object(object).serialized() + Array("\n".utf8)))
    }

    private static func plain(_ v: Logger.Metadata.Value) -> JSONValue {
        switch v {
        case .string(let s): return .string(s)
        case .stringConvertible(let c): return .string(c.description)
        case .array(let a): return .array(a.map(plain))
        case .dictionary(let d): return .object(d.mapValues(plain))
        }
    }
}
