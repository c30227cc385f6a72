import Testing

import HummingbirdMultiRegion
import MultiRegion
import MultiRegionTesting

@testable import App

@Suite("User validation")
struct ValidationTests {
    @Test("Valid input is trimmed and converted")
    func validInput() throws {
        let changes = try UserParams(name: "  Ada Lovelace ", age: " 36 ").validated().get()
        #expect(changes == UserChanges(name: "Ada Lovelace", age: 36))
    }

    @Test("Blank fields get a message each")
    func blankFields() {
        let errors = failure(UserParams(name: "   ", age: nil))
        #expect(errors["name"] == "can't be blank")
        #expect(errors["age"] == "can't be blank")
    }

    @Test("Names are at most 100 characters, counted as Postgres counts them")
    func nameLength() throws {
        #expect(failure(UserParams(name: String(repeating: "a", count: 101), age: "1"))["name"] == "should be at most 100 characters")
        _ = try UserParams(name: String(repeating: "é", count: 100), age: "1").validated().get()
        // Each flag is one Character but two Unicode scalars, as char_length counts them.
        #expect(failure(UserParams(name: String(repeating: "🇯🇵", count: 51), age: "1"))["name"] != nil)
    }

    @Test("Names with control characters are refused, not sent to Postgres")
    func controlCharacters() {
        #expect(failure(UserParams(name: "a\u{0}b", age: "1"))["name"] == "can't contain control characters")
    }

    @Test("Ages must be whole numbers from 0 to 150", arguments: [
        ("abc", "must be a whole number"),
        ("1.5", "must be a whole number"),
        ("-1", "must be between 0 and 150"),
        ("151", "must be between 0 and 150"),
        ("99999999999999999999999", "must be a whole number"),
    ])
    func badAges(input: String, message: String) {
        #expect(failure(UserParams(name: "A", age: input))["age"] == message)
    }

    @Test("The age bounds themselves are valid", arguments: ["0", "150"])
    func boundaryAges(input: String) throws {
        _ = try UserParams(name: "A", age: input).validated().get()
    }

    private func failure(_ params: UserParams) -> ValidationErrors {
        guard case .failure(let errors) = params.validated() else { return ValidationErrors() }
        return errors
    }
}
