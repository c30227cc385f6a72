/// The one page layout: header, flash message, content and the region badge.
enum Layout {
    static func page(title: String, badge: RegionBadge, flash: String?, content: HTML) -> HTML {
        """
        <!doctype html>
        <html lang="en">
        <head>
          <meta charset="utf-8">
          <meta name="viewport" content="width=device-width, initial-scale=1">
          <title>\(title) · Users</title>
          <link rel="icon" href="/assets/favicon.svg" type="image/svg+xml">
          <link rel="stylesheet" href="/assets/app.css">
          <script src="/assets/live.js" defer></script>
        </head>
        <body>
          <header class="site-header">
            <a class="site-title" href="/users">Users <span>on Fly.io, in every region</span></a>
            \(badge.html)
          </header>
          <main class="content">
            \(flash.map { "<p class=\"flash\" role=\"status\">\($0)</p>" as HTML })
            \(content)
          </main>
          <footer class="site-footer">
            Swift · Hummingbird · PostgresNIO — reads from the nearest replica, writes to the primary.
          </footer>
        </body>
        </html>
        """
    }
}
