/// A configuration problem, naming the environment variable at fault.
///
/// Its `description` is meant for the person starting the app, and never repeats a secret.
public enum ConfigurationError: Error, Equatable, CustomStringConvertible {
    /// A required variable is not set; `hint` says what to set it to.
    case missing(String, hint: String)
    /// A variable is set to something unusable; `reason` says why.
    case invalid(String, reason: String)

    /// The description, for logs and people.
    public var description: String {
        switch self {
        case .missing(let name, let hint): "\(name) is not set: \(hint)."
        case .invalid(let name, let reason): "\(name) \(reason)."
        }
    }
}
