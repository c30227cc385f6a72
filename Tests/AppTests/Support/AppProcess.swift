import HummingbirdMultiRegion
import MultiRegion
import MultiRegionTesting
import AsyncHTTPClient
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The real `App` binary (`TEST_APP_BINARY`, built by `scripts/test`), run as a child process
/// for tests that need signals and process exit: graceful shutdown, its time bound.
///
/// `deinit` kills the process if a test left it running, so a failing test leaves nothing behind.
final class AppProcess {
    let pid: pid_t
    let port: Int
    let logPath: String
    private var exitStatus: Int32?

    /// Starts `App serve` with `environment`, on `port` or on a free loopback port.
    init(environment: [String: String], port: Int? = nil, logPath: String) throws {
        guard let binary = ProcessInfo.processInfo.environment["TEST_APP_BINARY"], !binary.isEmpty else {
            throw TestFailure("TEST_APP_BINARY is not set: run the tests with scripts/test, which builds the App binary")
        }
        self.port = try port ?? freePort()
        self.logPath = logPath
        var environment = environment
        environment["HOST"] = "127.0.0.1"
        environment["PORT"] = "\(self.port)"
        environment["PUBLIC_DIR"] = TestCluster.publicDirectory

        var fileActions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&fileActions)
        defer { posix_spawn_file_actions_destroy(&fileActions) }
        posix_spawn_file_actions_addopen(&fileActions, 1, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_adddup2(&fileActions, 1, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = [binary, "serve"].map { (text: String) in strdup(text) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { for pointer in argv + envp { free(pointer) } }
        var pid: pid_t = 0
        let spawned = posix_spawn(&pid, binary, &fileActions, nil, argv, envp)
        guard spawned == 0 else { throw TestFailure("could not start \(binary): error \(spawned)") }
        self.pid = pid
    }

    deinit {
        if exitStatus == nil {
            kill(pid, SIGKILL)
            var status: Int32 = 0
            waitpid(pid, &status, 0)
        }
    }

    /// Sends a signal (SIGTERM, SIGINT) to the process.
    func signal(_ number: Int32) {
        kill(pid, number)
    }

    /// Waits at most `timeout` for the process to exit; its exit status, or `nil` if it still runs.
    func waitForExit(timeout: Duration) async throws -> Int32? {
        let deadline = ContinuousClock.now + timeout
        while exitStatus == nil {
            var status: Int32 = 0
            let result = waitpid(pid, &status, WNOHANG)
            if result == pid {
                exitStatus = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
            } else if ContinuousClock.now >= deadline {
                return nil
            } else {
                try await Task.sleep(for: .milliseconds(20))
            }
        }
        return exitStatus
    }

    /// Waits until the app answers `/healthz` (at most 30 s), failing with its log otherwise.
    func waitUntilAnswering(_ http: HTTPClient) async throws {
        for _ in 0..<300 {
            if let response = try? await http.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz"), timeout: .seconds(1)),
                response.status == .ok
            {
                return
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw TestFailure("the app on port \(port) did not answer /healthz within 30 s; log:\n\(log.suffix(1500))")
    }

    /// What the process logged so far.
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }
}
