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
    /// The version of this machine's configuration (`FLY_MACHINE_VERSION`), when running on
    /// Fly: each deploy gives every machine it updates a new one.
    public let machineVersion: String?
    /// The image this machine runs (`FLY_IMAGE_REF`, like
    /// `registry.fly.io/my-app:deployment-01J…`), when running on Fly.
    public let imageRef: String?
    /// The image's tag or digest (`deployment-01J…`, or `sha256:` and the first 12 hex
    /// digits), without the registry and the repository: what tells two deploys apart.
    public let imageTag: String?

    /// Creates the facts of one instance.
    ///
    /// - Parameters:
    ///   - region: This instance's region, like `ord`.
    ///   - primaryRegion: The region of the writable primary, like `nrt`.
    ///   - machineID: The Fly machine id, if any.
    ///   - appName: The Fly app name, if any; its presence means "running on Fly".
    ///   - machineVersion: The machine's configuration version, if any.
    ///   - imageRef: The machine's image, if known.
    public init(
        region: String,
        primaryRegion: String,
        machineID: String? = nil,
        appName: String? = nil,
        machineVersion: String? = nil,
        imageRef: String? = nil
    ) {
        self.region = region
        self.primaryRegion = primaryRegion
        self.machineID = machineID
        self.appName = appName
        self.machineVersion = machineVersion
        self.imageRef = imageRef
        self.imageTag = imageRef.map(Self.tag(of:))
    }

    /// The tag or short digest of an image reference (worked out once: badges show it).
    private static func tag(of imageRef: String) -> String {
        if let at = imageRef.lastIndex(of: "@") {
            let digest = imageRef[imageRef.index(after: at)...]
            return String(digest.prefix("sha256:".count + 12))
        }
        // A `:` after the last `/` starts the tag; one before it belongs to a registry's port.
        let name = imageRef.lastIndex(of: "/").map { imageRef[imageRef.index(after: $0)...] } ?? imageRef[...]
        guard let colon = name.lastIndex(of: ":") else { return String(name) }
        return String(name[name.index(after: colon)...])
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
