/// Where this instance runs, relative to the primary database.
struct RegionInfo: Sendable, Equatable {
    /// This instance's region (`FLY_REGION`).
    let region: String
    /// The region that holds the writable primary (`PRIMARY_REGION`).
    let primaryRegion: String
    /// The Fly machine id, when running on Fly.
    let machineID: String?
    /// The Fly app name, when running on Fly.
    let appName: String?

    /// Whether this instance runs next to the primary.
    var isPrimaryRegion: Bool { region == primaryRegion }
}
