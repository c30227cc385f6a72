/// Splits a SQL script into single statements, as PostgresNIO sends one statement per query.
///
/// Understands what can hide a semicolon: single-quoted strings (with `''` and, in `E'…'`
/// strings, backslash escapes), double-quoted identifiers, dollar quoting (`$$…$$`,
/// `$tag$…$tag$`), `--` line comments and nested `/* … */` comments. Statements that are
/// empty or hold only comments are dropped.
enum SQLSplitter {
    static func statements(in script: String) -> [String] {
        let characters = Array(script.unicodeScalars)
        var statements: [String] = []
        var current = String.UnicodeScalarView()
        var hasCode = false
        var index = 0

        func flush() {
            let statement = String(current).trimmingWhitespace()
            if hasCode, !statement.isEmpty { statements.append(statement) }
            current = String.UnicodeScalarView()
            hasCode = false
        }

        func character(at offset: Int) -> Unicode.Scalar? {
            offset < characters.count ? characters[offset] : nil
        }

        while index < characters.count {
            let c = characters[index]
            let next = character(at: index + 1)

            if c == "-", next == "-" {
                // A line comment runs to the end of the line.
                while index < characters.count, characters[index] != "\n" {
                    current.append(characters[index])
                    index += 1
                }
                continue
            }
            if c == "/", next == "*" {
                // Block comments nest in Postgres.
                var depth = 0
                repeat {
                    if characters[index] == "/", character(at: index + 1) == "*" {
                        depth += 1
                        current.append(contentsOf: ["/", "*"])
                        index += 2
                    } else if characters[index] == "*", character(at: index + 1) == "/" {
                        depth -= 1
                        current.append(contentsOf: ["*", "/"])
                        index += 2
                    } else {
                        current.append(characters[index])
                        index += 1
                    }
                } while depth > 0 && index < characters.count
                continue
            }
            if c == "'" || c == "\"" {
                // A string ('…', with '' inside, and backslash escapes in E'…') or a quoted
                // identifier ("…", with "" inside).
                let previous = index > 0 ? characters[index - 1] : nil
                let escapes = c == "'" && (previous == "E" || previous == "e")
                    && (index < 2 || !isIdentifierCharacter(characters[index - 2]))
                hasCode = true
                current.append(c)
                index += 1
                while index < characters.count {
                    let s = characters[index]
                    current.append(s)
                    index += 1
                    if escapes, s == "\\", index < characters.count {
                        current.append(characters[index])
                        index += 1
                    } else if s == c {
                        guard character(at: index) == c else { break }
                        current.append(c)
                        index += 1
                    }
                }
                continue
            }
            if c == "$", let tag = dollarTag(in: characters, at: index),
                index == 0 || !isIdentifierCharacter(characters[index - 1])
            {
                hasCode = true
                current.append(contentsOf: tag)
                index += tag.count
                // Copy up to and including the closing tag.
                while index < characters.count {
                    if characters[index] == "$", characters[index...].starts(with: tag) {
                        current.append(contentsOf: tag)
                        index += tag.count
                        break
                    }
                    current.append(characters[index])
                    index += 1
                }
                continue
            }
            if c == ";" {
                flush()
                index += 1
                continue
            }
            if !c.properties.isWhitespace { hasCode = true }
            current.append(c)
            index += 1
        }
        flush()
        return statements
    }

    /// The opening `$tag$` at `index`, if there is one (`$1` parameters are not tags).
    private static func dollarTag(in characters: [Unicode.Scalar], at index: Int) -> [Unicode.Scalar]? {
        var end = index + 1
        while end < characters.count, characters[end] != "$" {
            let c = characters[end]
            let isStart = end == index + 1
            guard c == "_" || c.properties.isAlphabetic || (!isStart && ("0"..."9").contains(c)) else { return nil }
            end += 1
        }
        guard end < characters.count else { return nil }
        return Array(characters[index...end])
    }

    private static func isIdentifierCharacter(_ c: Unicode.Scalar) -> Bool {
        c == "_" || c == "$" || c.properties.isAlphabetic || ("0"..."9").contains(c)
    }
}

extension String {
    fileprivate func trimmingWhitespace() -> String {
        let scalars = unicodeScalars
        guard let first = scalars.firstIndex(where: { !$0.properties.isWhitespace }),
            let last = scalars.lastIndex(where: { !$0.properties.isWhitespace })
        else { return "" }
        return String(scalars[first...last])
    }
}
