import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A file descriptor written one whole line per `write(2)` (unbuffered, so a pipe sees each
/// line at once), one line at a time, so lines from different threads never interleave.
final class LogOutput: Sendable {
    private let descriptor: Int32
    private let lock = Mutex(())

    init(descriptor: Int32) {
        self.descriptor = descriptor
    }

    static func standardOutput() -> LogOutput { LogOutput(descriptor: 1) }
    static func standardError() -> LogOutput { LogOutput(descriptor: 2) }

    func write(_ line: String) {
        var line = line
        lock.withLock { _ in
            line.withUTF8 { bytes in
                var offset = 0
                while offset < bytes.count {
                    #if canImport(Glibc)
                    let written = Glibc.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    #else
                    let written = Darwin.write(descriptor, bytes.baseAddress! + offset, bytes.count - offset)
                    #endif
                    if written <= 0 { return }
                    offset += written
                }
            }
        }
    }
}
