# syntax=docker/dockerfile:1

# ---- Build stage: the official Swift toolchain image ----------------------------------------
FROM swift:6.3-noble AS build
WORKDIR /build

# Resolve dependencies first, from the manifest alone, so this layer stays cached until
# Package.swift changes. There is no Package.resolved in git (and .dockerignore keeps a local
# one out), so versions are resolved from Package.swift's requirements, as on a fresh clone.
COPY Package.swift ./
RUN swift package resolve

# Tests/ is copied although only the App product is built: loading the package graph checks
# that every target declared in Package.swift (AppTests included) has its folder.
COPY Sources ./Sources
COPY Tests ./Tests

# --static-swift-stdlib links the Swift runtime, Foundation and Dispatch into the binary, so
# the runtime image needs no Swift toolchain. scripts/build-release runs this same build
# locally and checks with ldd that no Swift library is left to load at run time.
# swift-backtrace-static is the toolchain's crash reporter: with SWIFT_BACKTRACE (below) a
# crash prints a symbolicated backtrace to the machine's logs (`fly logs`).
# strip --strip-debug drops the DWARF line tables (about a third of the size); the symbols stay,
# so backtraces keep function names.
RUN swift build -c release --static-swift-stdlib --product App \
    && mkdir -p /staging \
    && cp "$(swift build -c release --static-swift-stdlib --product App --show-bin-path)/App" /staging/App \
    && strip --strip-debug /staging/App \
    && cp /usr/libexec/swift/linux/swift-backtrace-static /staging/swift-backtrace-static

# ---- Runtime stage: plain Ubuntu of the same release (same glibc as the build) -----------------
FROM ubuntu:noble

# ca-certificates: TLS to Postgres when a URL asks for sslmode=require.
# tzdata: Foundation's time zones. No libjemalloc2: the app's allocations are small and
# short-lived, and glibc malloc keeps the image and the build simpler.
RUN export DEBIAN_FRONTEND=noninteractive \
    && apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates tzdata \
    && rm -rf /var/lib/apt/lists/*

# Run as an unprivileged user; the app listens on 8080, so it needs no privileges.
RUN useradd --system --user-group --no-create-home --home-dir /app --shell /usr/sbin/nologin app

# The app reads Public/ (stylesheet) and Migrations/ relative to its working directory.
# Everything is copied owned by root, so the app user can read but not change it.
WORKDIR /app
COPY --from=build /staging/App /app/App
COPY --from=build /staging/swift-backtrace-static /app/swift-backtrace-static
COPY Public /app/Public
COPY Migrations /app/Migrations

USER app:app

# HOST=:: listens on IPv4 and IPv6 (Fly's private network, .internal names, is IPv6 only).
ENV PORT=8080 \
    HOST=:: \
    SWIFT_BACKTRACE=enable=yes,sanitize=yes,threads=all,images=all,interactive=no,swift-backtrace=/app/swift-backtrace-static
EXPOSE 8080

# No ENTRYPOINT, on purpose: fly.toml's release_command and `docker run <image> ...` replace
# CMD as a whole, so both spell the full command ("./App migrate"), the same everywhere.
# The app drains in-flight requests on SIGTERM (fly.toml: kill_signal = "SIGTERM").
CMD ["./App", "serve"]
