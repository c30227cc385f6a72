import Crypto
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// One SQL file in `Migrations/`, named `<version>_<description>.sql`.
public struct MigrationFile: Sendable, Equatable {
    /// The number before the first `_`; files apply in this order.
    public let version: Int64
    /// The file name, recorded with the version.
    public let name: String
    /// The file's SQL: one or more statements.
    public let sql: String

    /// A migration from its parts (apps that embed their SQL).
    public init(version: Int64, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
    }

    /// SHA-256 of the file's bytes, hex encoded; a changed file has a different checksum.
    public var checksum: String {
        SHA256.hash(data: Data(sql.utf8)).map { $0 < 16 ? "0" + String($0, radix: 16) : String($0, radix: 16) }.joined()
    }

    /// Reads every `NNNN_name.sql` file in `directory`, sorted by version.
    public static func load(from directory: String) throws(MigrationError) -> [MigrationFile] {
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: directory)
        } catch {
            throw .directoryUnreadable(directory)
        }
        var files: [MigrationFile] = []
        for name in names where name.hasSuffix(".sql") {
            guard let underscore = name.firstIndex(of: "_"), let version = Int64(name[..<underscore]) else {
                throw .badFileName(name)
            }
            guard let data = FileManager.default.contents(atPath: directory + "/" + name),
                let sql = String(data: data, encoding: .utf8)
            else {
                throw .fileUnreadable(name)
            }
            files.append(MigrationFile(version: version, name: name, sql: sql))
        }
        files.sort { $0.version < $1.version }
        for (previous, next) in zip(files, files.dropFirst()) where previous.version == next.version {
            throw .duplicateVersion(previous.name, next.name)
        }
        return files
    }
}

/// Why migrations were not applied.
public enum MigrationError: Error, Equatable, CustomStringConvertible {
    /// The migrations folder cannot be read.
    case directoryUnreadable(String)
    /// A file not named like `0001_create_users.sql`.
    case badFileName(String)
    /// A file that is not UTF-8 text.
    case fileUnreadable(String)
    /// Two files with the same version.
    case duplicateVersion(String, String)
    /// The server is a replica (in recovery): migrations run on the primary only.
    case readOnlyServer
    /// An applied file whose contents changed since.
    case changedAfterApply(String)
    /// A statement of a file failed; the file was rolled back.
    case failed(String, statement: Int, message: String)

    /// The description, for logs and people.
    public var description: String {
        switch self {
        case .directoryUnreadable(let directory):
            "Cannot read the migrations folder '\(directory)'."
        case .badFileName(let name):
            "Migration file '\(name)' must be named like 0001_create_users.sql."
        case .fileUnreadable(let name):
            "Cannot read migration file '\(name)' as UTF-8 text."
        case .duplicateVersion(let first, let second):
            "Migration files '\(first)' and '\(second)' have the same version number."
        case .readOnlyServer:
            "The database server is read-only (a replica, in recovery); run migrations against the primary (DATABASE_URL)."
        case .changedAfterApply(let name):
            "Migration '\(name)' was changed after it was applied; add a new migration instead of editing an applied one."
        case .failed(let name, let statement, let message):
            "Migration '\(name)' failed at statement \(statement) and was rolled back: \(message)"
        }
    }
}
