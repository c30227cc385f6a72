import Hummingbird
import HummingbirdMultiRegion
import Logging
import MultiRegion

/// Turns every error into an HTML page with the badge, and never shows internals.
///
/// Client mistakes get their 4xx page; a database that cannot be reached gets a 503;
/// anything unexpected is logged once, with details, and becomes a plain 500 page.
///
/// It is the router's one middleware, around every route and the answer for a path that
/// matches none: the router itself turns an `HTTPResponseError` that reaches it into a plain
/// response. `AppResponder` asks it for the page of an error thrown before routing.
struct ErrorPageMiddleware: RouterMiddleware {
    typealias Context = AppRequestContext

    let renderer: PageRenderer

    /// Runs the request; answers an error it throws with its page.
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            return page(for: error, request: request, context: context)
        }
    }

    /// The page for `error`, thrown by `request`.
    func page(for error: any Error, request: Request, context: Context) -> Response {
        if let error = error as? HTTPError {
            return page(for: error, context: context)
        }
        if PostgresErrors.isUnavailable(error) {
            context.logger.warning("Database unavailable", metadata: ["error": "\(String(reflecting: error))"])
            let readOnly = if case .primaryReadOnly = error as? MultiRegionError { true } else { false }
            let isWrite = readOnly || RouteKind.byMethod.writes(request.method)
            let why = readOnly ? "the primary database is read-only for the moment" : "the primary database cannot be reached"
            var response = renderer.errorPage(
                .serviceUnavailable,
                title: isWrite ? "Writes are unavailable" : "Database unavailable",
                message: isWrite
                    ? "Writes are unavailable right now: \(why). Nothing was saved. Reading still works; please try again in a minute."
                    : "The database could not be reached just now. Please try again in a few seconds.",
                context: context
            )
            response.headers[.retryAfter] = "5"
            return response
        }
        if let error = error as? MultiRegionError {
            if case .replayFailed = error {
                context.logger.warning("A replay to the primary region failed; answered 503", metadata: ["error": "\(error)"])
                var response = renderer.errorPage(.serviceUnavailable, title: "Writes are unavailable", message: error.description, context: context)
                response.headers[.retryAfter] = "5"
                return response
            }
            return page(for: HTTPError(error.status, message: error.description), context: context)
        }
        if let error = error as? any HTTPResponseError {
            return page(for: HTTPError(error.status), context: context)
        }
        context.logger.error(
            "Unexpected error",
            metadata: ["error": "\(String(reflecting: error))", "method": "\(request.method)", "path": "\(request.uri.path)"]
        )
        return renderer.errorPage(
            .internalServerError,
            title: "Something went wrong",
            message: "The page could not be shown because of an error on our side. It has been logged.",
            context: context
        )
    }

    private func page(for error: HTTPError, context: Context) -> Response {
        let (title, message): (String, String) =
            switch error.status {
            case .notFound: ("Not found", "There is no page here. The user may have been deleted, or the address mistyped.")
            case .contentTooLarge: ("Too large", "The request was larger than 1 MB, which is more than this app accepts.")
            case .badRequest: ("Bad request", "The request could not be understood. Please go back and try again.")
            case .forbidden: ("Not accepted", error.body ?? "This request was not accepted.")
            case .methodNotAllowed: ("Not allowed", "This address does not accept that kind of request.")
            case .serviceUnavailable: ("Unavailable", error.body ?? "This is unavailable right now. Please try again shortly.")
            default: (error.status.reasonPhrase, error.body ?? "The request could not be completed.")
            }
        var response = renderer.errorPage(error.status, title: title, message: message, context: context)
        for field in error.headers { response.headers.append(field) }
        return response
    }
}
