#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Logging

/// Writes plain log lines to standard error (`LOG_FORMAT=text`, the default), in the shape of
/// swift-log's `StreamLogHandler`: `2026-11-23T16:11:59Z warning users: key=value [App] message`.
///
/// Unlike `StreamLogHandler`, setting metadata only stores it: Hummingbird sets a request id on
/// every request's logger, and `StreamLogHandler` formats all the metadata again each time
/// (about 3% of the app's time on `GET /users/{id}`), whether or not anything is logged.
struct TextLogHandler: LogHandler {
    let label: String
    var logLevel: Logger.Level = .info
    var metadata: Logger.Metadata = [:]
    private let output: LogOutput

    init(label: String, output: LogOutput) {
        self.label = label
        self.output = output
    }

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let merged = event.metadata.map { metadata.merging($0) { $1 } } ?? metadata
        var text = "\(Timestamp.iso8601(Date())) \(event.level) \(label):"
        for key in merged.keys.sorted() {
            text += " \(key)=\(merged[key]!)"
        }
        output.write(text + " [\(event.source)] \(event.message)\n")
    }
}
