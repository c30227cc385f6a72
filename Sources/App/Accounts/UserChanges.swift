#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The fields a form may submit for a user, exactly as typed.
struct UserParams: Sendable, Equatable, Decodable {
    var name: String?
    var age: String?
    /// The version of the user the form was rendered from (a hidden field), for optimistic
    /// locking; absent in forms and API calls that do not name one.
    var lockVersion: String?

    enum CodingKeys: String, CodingKey {
        case name, age
        case lockVersion = "lock_version"
    }

    init(name: String? = nil, age: String? = nil, lockVersion: String? = nil) {
        self.name = name
        self.age = age
        self.lockVersion = lockVersion
    }

    /// The form values of an existing user, for the edit page.
    init(_ user: User) {
        self.init(name: user.name, age: String(user.age), lockVersion: String(user.lockVersion))
    }

    /// The versions a write based on this form may apply to: `nil` when the form names none;
    /// a value that is not a version matches nothing.
    var versions: [Int]? {
        lockVersion.map { text in Int(text.trimmed).map { [$0] } ?? [] }
    }
}

/// Valid values for a user, ready to be written.
struct UserChanges: Sendable, Equatable {
    let name: String
    let age: Int
}

/// The messages for fields that failed validation, keyed by field name.
struct ValidationErrors: Error, Sendable, Equatable {
    var messages: [String: String] = [:]

    subscript(field: String) -> String? { messages[field] }
    var isEmpty: Bool { messages.isEmpty }
}

extension UserParams {
    static let maximumNameLength = 100
    static let ages = 0...150

    /// Validates and normalises the input; the only place the user rules live.
    ///
    /// The same rules are CHECK constraints on the users table. Length is counted in Unicode
    /// scalars, as Postgres's `char_length` counts code points.
    func validated() -> Result<UserChanges, ValidationErrors> {
        var errors = ValidationErrors()

        let name = (self.name ?? "").trimmed
        if name.isEmpty {
            errors.messages["name"] = "can't be blank"
        } else if name.unicodeScalars.count > Self.maximumNameLength {
            errors.messages["name"] = "should be at most \(Self.maximumNameLength) characters"
        } else if name.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) {
            errors.messages["name"] = "can't contain control characters"
        }

        let ageText = (self.age ?? "").trimmed
        var age: Int?
        if ageText.isEmpty {
            errors.messages["age"] = "can't be blank"
        } else if !ageText.drop(while: { $0 == "-" || $0 == "+" }).allSatisfy({ $0.isASCII && $0.isNumber })
            || ageText.count > 20
        {
            errors.messages["age"] = "must be a whole number"
        } else if let value = Int(ageText), Self.ages.contains(value) {
            age = value
        } else {
            errors.messages["age"] = "must be between \(Self.ages.lowerBound) and \(Self.ages.upperBound)"
        }

        guard errors.isEmpty, let age else { return .failure(errors) }
        return .success(UserChanges(name: name, age: age))
    }
}
