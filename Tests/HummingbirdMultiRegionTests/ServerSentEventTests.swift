import HTTPTypes
import Hummingbird
import Testing

import HummingbirdMultiRegion

@Suite("Server-sent events' wire form")
struct ServerSentEventTests {
    @Test("An event is its fields, one per line, and a blank line")
    func fields() {
        let event = ServerSentEvent(id: "0/16B3748", event: "changes", data: #"{"a":1}"#)
        #expect(event.text == "event: changes\nid: 0/16B3748\ndata: {\"a\":1}\n\n")
        #expect(ServerSentEvent(data: "x").text == "data: x\n\n")
    }

    @Test("Data with line breaks becomes several data lines; an id or type cannot start a field of its own")
    func lineBreaks() {
        #expect(ServerSentEvent(data: "one\ntwo\r\nthree\rfour\n").text == "data: one\ndata: two\ndata: three\ndata: four\ndata: \n\n")
        // Only the stream's own breaks split: U+2028 is data, and reaches the browser as it is.
        #expect(ServerSentEvent(data: "a\u{2028}b").text == "data: a\u{2028}b\n\n")
        #expect(ServerSentEvent(id: "1\ndata: forged", event: "x\ny", data: "").text == "event: xy\nid: 1data: forged\ndata: \n\n")
    }

    @Test("Last-Event-ID is read as a WAL position, and anything else is none")
    func lastEventID() {
        func request(_ lastEventID: String?) -> Request {
            var head = HTTPRequest(method: .get, scheme: nil, authority: nil, path: "/users/live")
            if let lastEventID { head.headerFields[HTTPField.Name("Last-Event-ID")!] = lastEventID }
            return Request(head: head, body: .init(buffer: .init()))
        }
        #expect(request(nil).lastEventPosition == nil)
        #expect(request("0/16B3748").lastEventPosition?.description == "0/16B3748")
        #expect(request("yesterday").lastEventPosition == nil)
    }
}
