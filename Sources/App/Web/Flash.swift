import HummingbirdMultiRegion
import Hummingbird

/// One-time messages ("User created.") carried across a redirect in a signed cookie.
struct Flash: Sendable {
    static let cookieName = "flash"
    private static let purpose = "flash"

    let signer: CookieSigner

    /// The cookie that carries `message` to the next page.
    func cookie(_ message: String) -> Cookie {
        Cookie(name: Self.cookieName, value: signer.sign(message, purpose: Self.purpose), maxAge: 60, path: "/", httpOnly: true, sameSite: .lax)
    }

    /// The message in the request's cookie, if it is one this app signed.
    func message(in request: Request) -> String? {
        request.cookies[Self.cookieName].flatMap { signer.verify($0.value, purpose: Self.purpose) }
    }

    /// A cookie that removes the flash once it has been shown.
    static let expired = Cookie(name: cookieName, value: "", maxAge: 0, path: "/", httpOnly: true, sameSite: .lax)
}

/// Reads the flash message into the context and clears it once a page has shown it.
struct FlashMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let flash: Flash

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard request.cookies[Flash.cookieName] != nil else {
            return try await next(request, context)
        }
        var context = context
        context.flash = flash.message(in: request)
        var response = try await next(request, context)
        // A redirect does not show the flash, so it stays for the page after it.
        if !response.setsCookie(named: Flash.cookieName), !(300..<400).contains(response.status.code) {
            response.setCookie(Flash.expired)
        }
        return response
    }
}
