/// Pages for requests that went wrong: short, friendly, and free of internals.
enum ErrorViews {
    static func page(title: String, message: String) -> HTML {
        """
        <div class="error-page">
          <h1>\(title)</h1>
          <p>\(message)</p>
          <p><a class="button" href="/users">Go to users</a></p>
        </div>
        """
    }
}
