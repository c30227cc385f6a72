/// One event of a `text/event-stream` response, as the HTML standard's `EventSource` reads it.
public struct ServerSentEvent: Sendable, Equatable {
    /// The event's id: the browser sends the last one back as `Last-Event-ID` when it reconnects.
    public var id: String?
    /// The event's type (`message` when `nil`): the name an `addEventListener` listens for.
    public var event: String?
    /// The event's data; a line break in it becomes a second `data:` line.
    public var data: String

    /// An event from its parts.
    ///
    /// - Parameters:
    ///   - id: The event id, if any.
    ///   - event: The event type, if any.
    ///   - data: The data (JSON, usually).
    public init(id: String? = nil, event: String? = nil, data: String) {
        self.id = id
        self.event = event
        self.data = data
    }

    /// The event in the stream's wire form, ending with the blank line that dispatches it.
    ///
    /// An id or type with a line break in it would start a field of its own, so those breaks
    /// are dropped.
    public var text: String {
        var text = ""
        if let event { text += "event: \(Self.oneLine(event))\n" }
        if let id { text += "id: \(Self.oneLine(id))\n" }
        var line = Substring(data)
        while let end = line.firstIndex(where: \.isNewline) {
            text += "data: \(line[..<end])\n"
            line = line[line.index(after: end)...]
        }
        text += "data: \(line)\n\n"
        return text
    }

    private static func oneLine(_ field: String) -> String {
        field.contains(where: \.isNewline) ? String(field.filter { !$0.isNewline }) : field
    }
}
