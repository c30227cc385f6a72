import HummingbirdMultiRegion
import MultiRegion
import MultiRegionTesting
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A raw TCP connection to 127.0.0.1, for what an HTTP client library will not do: stall half
/// way through a request, or send a whole body before reading. Every send and receive is
/// bounded by `timeout`.
final class LoopbackSocket {
    private let fd: Int32

    init(port: Int, timeout: Int = 10) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw TestFailure("socket() failed") }
        var limit = timeval(tv_sec: timeout, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            Glibc.close(fd)
            throw TestFailure("connect() to port \(port) failed")
        }
    }

    deinit { Glibc.close(fd) }

    /// Sends every byte, or throws when the peer stops reading for longer than the timeout.
    func send(_ bytes: [UInt8]) throws {
        var offset = 0
        while offset < bytes.count {
            let sent = bytes[offset...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard sent > 0 else { throw TestFailure("sending stalled after \(offset) of \(bytes.count) bytes (errno \(errno))") }
            offset += sent
        }
    }

    func send(_ text: String) throws {
        try send(Array(text.utf8))
    }

    /// What `read(until:)` has received and not yet returned.
    private var pending: [UInt8] = []

    /// Reads until the text received so far contains `marker`, and returns it up to the end of
    /// the marker (keeping the rest for the next read); throws when the peer closes first or
    /// sends nothing within the timeout.
    func read(until marker: String) throws -> String {
        let needle = Array(marker.utf8)
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            if let end = Self.end(of: needle, in: pending) {
                defer { pending.removeFirst(end) }
                return String(decoding: pending[..<end], as: UTF8.self)
            }
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            guard count > 0 else {
                throw TestFailure("no \"\(marker)\" before the server \(count == 0 ? "closed" : "went quiet (errno \(errno))"); got:\n\(String(decoding: pending, as: UTF8.self))")
            }
            pending += buffer[..<count]
        }
    }

    private static func end(of needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard !needle.isEmpty, haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return start + needle.count
        }
        return nil
    }

    /// Reads until the peer closes; throws when it neither sends nor closes within the timeout.
    func readToEnd() throws -> String {
        var reply = pending
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count == 0 {
                pending = []
                return String(decoding: reply, as: UTF8.self)
            }
            guard count > 0 else { throw TestFailure("the server neither answered nor closed (errno \(errno)); got \(reply.count) bytes") }
            reply += buffer[..<count]
        }
    }
}
