public import Hummingbird
public import MultiRegion

extension MultiRegionError: HTTPResponseError {
    /// 503 for all of them: each is a state of the service, not a mistake of the client.
    public var status: HTTPResponse.Status { .serviceUnavailable }

    /// A plain-text answer with `Retry-After`, for apps that render no page of their own.
    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/plain; charset=utf-8"
        headers[.retryAfter] = "5"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: description + "\n")))
    }
}
