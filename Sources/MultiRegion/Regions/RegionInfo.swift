/// Where this instance runs, relative to the primary database: the facts Fly puts in the
/// environment of every machine.
public struct RegionInfo: Sendable, Equatable {
    /// This instance's region (`FLY_REGION`).
    public let region: String
    /// The region that holds the writable primary (`PRIMARY_REGION`).
    public let primaryRegion: String
    /// The Fly machine id (`FLY_MACHINE_ID`), when running on Fly.
    public let machineID: String?
    /// The Fly app name (`FLY_APP_NAME`), when running on Fly.
    public let appName: String?

    /// Creates the facts of one instance.
    ///
    /// - Parameters:
    ///   - region: This instance's region, like `ord`.
    ///   - primaryRegion: The region of the writable primary, like `nrt`.
    ///   - machineID: The Fly machine id, if any.
    ///   - appName: The Fly app name, if any; its presence means "running on Fly".
    public init(region: String, primaryRegion: String, machineID: String? = nil, appName: String? = nil) {
        self.region = region
        self.primaryRegion = primaryRegion
        self.machineID = machineID
        self.appName = appName
    }

    /// Whether this instance runs next to the primary.
    public var isPrimaryRegion: Bool { region == primaryRegion }

    /// Whether the instance runs on Fly (`FLY_APP_NAME` is set).
    public var isOnFly: Bool { appName != nil }

    /// Whether `text` looks like a region code (letters, digits and `-`, 1 to 16 of them).
    public static func isRegionCode(_ text: some StringProtocol) -> Bool {
        (1...16).contains(text.count) && text.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-") }
    }
}

/// How a write that arrives outside the primary region reaches the primary.
public enum WriteMode: String, Sendable {
    /// Ask Fly's proxy to replay the whole request in the primary region (`fly-replay`).
    case replay
    /// Connect to the primary over the network from this region.
    case direct
}
