#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Lines on stdout, written at once with `write(2)` so that a reader on a pipe (a script, `watch | grep`) sees
/// each line when it is printed.
///
/// SwiftNIO ignores SIGPIPE, so a closed pipe (`leasehold watch | head -1`) shows up as `EPIPE` here; the process
/// then exits with 128 + SIGPIPE, the status it would have had without NIO, instead of crashing.
enum Output {
    static func print(_ line: String) {
        guard Self.writeAll(line + "\n", to: STDOUT_FILENO) else { exit(128 + SIGPIPE) }
    }

    /// Writes all of `text`, retrying short writes and interruptions.
    /// - Returns: `false` when the reader has gone away (or another write error).
    static func writeAll(_ text: String, to descriptor: Int32) -> Bool {
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { buffer in
                write(descriptor, buffer.baseAddress, buffer.count)
            }
            if written < 0 {
                if errno == EINTR { continue }
                return false
            }
            bytes = bytes.dropFirst(written)
        }
        return true
    }
}

/// Lines on stderr, unbuffered.
enum StandardError {
    /// Writes `line` and a newline to stderr; errors are ignored, as there is nowhere left to report them.
    static func print(_ line: String) {
        _ = Output.writeAll(line + "\n", to: STDERR_FILENO)
    }
}
