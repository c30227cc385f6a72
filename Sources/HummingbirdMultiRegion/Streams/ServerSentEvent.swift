/// One event of a `text/event-stream` response, as the HTML standard's `EventSource` reads it.
///
/// Its wire form is made once, when it is made: an event sent to many streams (one batch of a
/// change feed to every subscriber) is encoded once, not once per stream.
public struct ServerSentEvent: Sendable, Equatable {
    /// The event's id: the browser sends the last one back as `Last-Event-ID` when it reconnects.
    public let id: String?
    /// The event's type (`message` when `nil`): the name an `addEventListener` listens for.
    public let event: String?
    /// The event's data; a line break in it (LF, CR or CRLF, the stream's own) becomes a
    /// second `data:` line, which the browser joins back with a line feed.
    public let data: String
    /// The event in the stream's wire form, ending with the blank line that dispatches it.
    ///
    /// An id or type with a line break in it would start a field of its own, so those breaks
    /// are dropped.
    public let text: String

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
        var text = ""
        if let event { text += "event: \(Self.oneLine(event))\n" }
        if let id { text += "id: \(Self.oneLine(id))\n" }
        if !Self.hasLineBreak(data) {
            // The usual case (JSON): one line, found by a scan of its bytes.
            text += "data: \(data)\n\n"
        } else {
            for line in data.split(omittingEmptySubsequences: false, whereSeparator: Self.isLineBreak) {
                text += "data: \(line)\n"
            }
            text += "\n"
        }
        self.text = text
    }

    /// The stream's line breaks: LF, CR and CRLF (one `Character`); other Unicode breaks are
    /// data like any other character.
    private static func isLineBreak(_ character: Character) -> Bool {
        character == "\n" || character == "\r" || character == "\r\n"
    }

    private static func hasLineBreak(_ text: String) -> Bool {
        text.utf8.contains { $0 == 0x0A || $0 == 0x0D }
    }

    private static func oneLine(_ field: String) -> String {
        hasLineBreak(field) ? String(field.filter { !isLineBreak($0) }) : field
    }
}
