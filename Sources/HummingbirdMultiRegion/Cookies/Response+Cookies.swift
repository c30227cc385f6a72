import Hummingbird

extension Response {
    /// Whether this response already sets (or removes) the cookie called `name`.
    func setsCookie(named name: String) -> Bool {
        headers[values: .setCookie].contains { $0.hasPrefix("\(name)=") }
    }
}
