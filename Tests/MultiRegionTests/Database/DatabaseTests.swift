import Testing

/// Every suite that uses the real primary and replica is nested here, so they run one at a
/// time even without `--no-parallel`: some stop the servers or pause replay.
@Suite("Against the real primary and replica", .serialized)
enum DatabaseTests {}
