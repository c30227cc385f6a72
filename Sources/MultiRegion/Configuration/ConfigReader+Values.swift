public import Configuration

extension ConfigReader {
    /// The value of `key` without surrounding white space, or `nil` when unset or blank.
    ///
    /// - Parameters:
    ///   - key: The key, like `database.url` for `DATABASE_URL`.
    ///   - isSecret: Whether the value must never be logged.
    public func nonEmptyString(forKey key: ConfigKey, isSecret: Bool = false) -> String? {
        guard let value = string(forKey: key, isSecret: isSecret)?.trimmingWhitespace, !value.isEmpty else { return nil }
        return value
    }

    /// A number of seconds (`2`, `0.5`, from 0 to 3600) as a duration, or `value` when unset.
    ///
    /// - Parameters:
    ///   - key: The key, like `database.timeout`.
    ///   - name: The environment variable's name, for the error.
    ///   - value: The default.
    public func seconds(forKey key: ConfigKey, name: String, default value: Duration) throws(ConfigurationError) -> Duration {
        guard let text = nonEmptyString(forKey: key) else { return value }
        guard let seconds = Double(text), seconds.isFinite, seconds >= 0, seconds <= 3600 else {
            throw .invalid(name, reason: "must be a number of seconds from 0 to 3600, like 2 or 0.5")
        }
        return .milliseconds(Int64((seconds * 1000).rounded()))
    }
}

extension StringProtocol {
    /// The text without leading and trailing white space (newlines included).
    package var trimmingWhitespace: String {
        guard let first = firstIndex(where: { !$0.isWhitespace }), let last = lastIndex(where: { !$0.isWhitespace }) else { return "" }
        return String(self[first...last])
    }
}
