import ArgumentParser
import Foundation
import LeaseholdCore
import LeaseholdRPC
import LeaseholdWire

/// The exit statuses of the client commands, as `leasehold --help` lists them.
enum ExitStatus {
    /// The lock is held by someone else, or the wait for it ran out.
    static let lockUnavailable: Int32 = 1
    /// `leasehold lock` stopped its command because it could no longer be sure it held the lock.
    static let lockLost: Int32 = 2
    /// Bad usage; the same status ArgumentParser uses for its own validation errors (`EX_USAGE`).
    static let usage: Int32 = 64
    /// The server cannot be reached, or does not answer (`EX_UNAVAILABLE`).
    static let unavailable: Int32 = 69
    /// Any other failure (`EX_SOFTWARE`).
    static let software: Int32 = 70
    /// The token is missing, unknown, or lacks the role (`EX_NOPERM`).
    static let noPermission: Int32 = 77
    /// `leasehold lock` could not start the command because it is not executable (as shells do).
    static let commandNotExecutable: Int32 = 126
    /// `leasehold lock` could not find the command (as shells do).
    static let commandNotFound: Int32 = 127
}

/// A failure that a command reports as one line on stderr, `leasehold: <message>`, and an exit status.
struct CommandFailure: Error, CustomStringConvertible {
    var message: String
    var status: Int32

    init(_ message: String, status: Int32 = ExitStatus.software) {
        self.message = message
        self.status = status
    }

    /// Translates any error a command met into the line and the status the user sees.
    /// - Parameters:
    ///   - error: What went wrong.
    ///   - server: The server's address, for messages about reaching it.
    init(_ error: any Error, server: String) {
        switch error {
        case let failure as CommandFailure:
            self = failure
        case let error as LeaseholdError:
            self.init(error, server: server)
        default:
            self.init("\(error)")
        }
    }

    private init(_ error: LeaseholdError, server: String) {
        switch error.code {
        case .lockHeld:
            if let holder = error.holder {
                self.init("\(holder.key) is held by \(holder.holderDescription)", status: ExitStatus.lockUnavailable)
            } else {
                self.init(error.message, status: ExitStatus.lockUnavailable)
            }
        case .deadlineExceeded where error.cause is NoAnswerWithinDeadline:
            self.init("the server at \(server) did not answer in time", status: ExitStatus.unavailable)
        case .deadlineExceeded:
            self.init(error.message, status: ExitStatus.lockUnavailable)
        case .unavailable:
            self.init("cannot reach the server at \(server): \(error.message)", status: ExitStatus.unavailable)
        case .unauthenticated:
            self.init(
                "not authenticated: \(error.message) (pass --token or set LEASEHOLD_TOKEN)",
                status: ExitStatus.noPermission
            )
        case .permissionDenied:
            self.init("permission denied: \(error.message)", status: ExitStatus.noPermission)
        case .invalidArgument:
            self.init(error.message, status: ExitStatus.usage)
        default:
            self.init("\(error.message) (\(error.code))")
        }
    }

    var description: String { self.message }

    /// Runs a command's body; on failure prints the one-line message and exits with the failure's status.
    /// - Parameters:
    ///   - server: The server's address, for messages about reaching it.
    ///   - body: The command's work.
    /// - Throws: `ExitCode`, which ArgumentParser turns into the process's exit status without printing more.
    static func reporting(server: String, _ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let exit as ExitCode {
            throw exit
        } catch {
            let failure = CommandFailure(error, server: server)
            StandardError.print("leasehold: \(failure.message)")
            throw ExitCode(failure.status)
        }
    }
}
