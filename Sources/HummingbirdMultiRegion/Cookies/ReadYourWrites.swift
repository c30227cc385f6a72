public import Crypto
public import Hummingbird
public import MultiRegion

/// Read-your-writes by replication position: after a write, a cookie holds the primary's WAL
/// position; a later read waits (bounded) until the replica has replayed it.
public struct ReadYourWrites: Sendable {
    /// The cookie's name.
    public static let cookieName = "wal"
    private static let purpose = "wal-lsn"
    /// Long enough for any sane replica to catch up; after that the cookie only costs waits.
    public static let cookieLifetime = 60

    let signer: CookieSigner

    /// Positions signed with `key` (HMAC-SHA256), so a forged one is ignored.
    public init(key: SymmetricKey) {
        self.signer = CookieSigner(key: key)
    }

    /// Remembers `lsn` in the response so the writer's next reads see this write.
    public func remember(_ lsn: LSN?, in response: inout Response) {
        guard let lsn else { return }
        response.setCookie(
            Cookie(
                name: Self.cookieName,
                value: signer.sign(lsn.description, purpose: Self.purpose),
                maxAge: Self.cookieLifetime,
                path: "/",
                httpOnly: true,
                sameSite: .lax
            )
        )
    }

    /// What the request's cookie says.
    public enum Position: Equatable, Sendable {
        /// No cookie.
        case none
        /// A position this app signed.
        case written(LSN)
        /// Malformed or forged: to be ignored, and dropped.
        case invalid
    }

    /// The position in the request's cookie, if this app signed it.
    public func position(in request: Request) -> Position {
        guard let cookie = request.cookies[Self.cookieName] else { return .none }
        guard let text = signer.verify(cookie.value, purpose: Self.purpose), let lsn = LSN(text) else { return .invalid }
        return .written(lsn)
    }

    /// Removes the cookie once the replica has caught up.
    public static let expired = Cookie(name: cookieName, value: "", maxAge: 0, path: "/", httpOnly: true, sameSite: .lax)
}
