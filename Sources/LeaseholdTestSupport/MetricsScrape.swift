import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One parsed `GET /metrics` answer in the Prometheus text format: every sample by its series (name and labels as
/// written, e.g. `leasehold_releases_total{cause="force"}`) and every metric's declared type.
public struct MetricsScrape: Sendable {
    /// Sample values by series.
    public var samples: [String: Double] = [:]
    /// `# TYPE` declarations by metric name.
    public var types: [String: String] = [:]
    /// The raw text.
    public var text: String

    /// Parses an exposition.
    public init(text: String) {
        self.text = text
        for line in text.split(separator: "\n") {
            if line.hasPrefix("# TYPE ") {
                let parts = line.split(separator: " ")
                if parts.count == 4 { self.types[String(parts[2])] = String(parts[3]) }
            } else if !line.hasPrefix("#"), let space = line.lastIndex(of: " ") {
                self.samples[String(line[..<space])] = Double(line[line.index(after: space)...])
            }
        }
    }

    /// The value of one series, or nil if the answer lacks it.
    public subscript(_ series: String) -> Double? { self.samples[series] }

    /// Fetches `GET /metrics` from `host:port` over one plain TCP connection, within 10 s.
    /// - Throws: When the endpoint cannot be reached or answers with something other than 200.
    public static func fetch(host: String = "127.0.0.1", port: Int) throws -> MetricsScrape {
        let (status, body) = try Self.get("/metrics", host: host, port: port)
        guard status == 200 else { throw ScrapeFailed(reason: "status \(status)") }
        return MetricsScrape(text: body)
    }

    /// Sends `GET target` to the metrics endpoint at `host:port` over one plain TCP connection, within 10 s.
    /// - Parameters:
    ///   - target: The request target, such as `/sessions?limit=2`.
    ///   - host: An IPv4 address.
    ///   - port: The endpoint's port.
    /// - Returns: The status code and the body.
    /// - Throws: ``ScrapeFailed`` when the endpoint cannot be reached or the answer is incomplete.
    public static func get(_ target: String, host: String = "127.0.0.1", port: Int) throws -> (Int, String) {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ScrapeFailed(reason: "socket: errno \(errno)") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        inet_pton(AF_INET, host, &address.sin_addr)
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else { throw ScrapeFailed(reason: "connect: errno \(errno)") }
        let request = Array("GET \(target) HTTP/1.1\r\nHost: \(host)\r\n\r\n".utf8)
        guard write(fd, request, request.count) == request.count else { throw ScrapeFailed(reason: "write failed") }
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        // Reads until the whole body that Content-Length announces is in; bounded by the receive timeout.
        for _ in 0..<10_000 {
            let count = read(fd, &chunk, chunk.count)
            guard count > 0 else { break }
            received.append(contentsOf: chunk[0..<count])
            if let response = Self.response(received) { return response }
        }
        throw ScrapeFailed(reason: "incomplete answer: \(String(decoding: received, as: UTF8.self))")
    }

    private static func response(_ bytes: [UInt8]) -> (Int, String)? {
        let text = String(decoding: bytes, as: UTF8.self)
        guard let end = text.range(of: "\r\n\r\n") else { return nil }
        let head = text[..<end.lowerBound].lowercased()
        let status = Int(head.split(separator: " ").dropFirst().first ?? "") ?? 0
        guard let line = head.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
            let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces))
        else { return nil }
        let body = Array(text[end.upperBound...].utf8)
        guard body.count >= length else { return nil }
        return (status, String(decoding: body[0..<length], as: UTF8.self))
    }
}

/// A metrics scrape that did not work.
public struct ScrapeFailed: Error, CustomStringConvertible {
    public var reason: String
    public var description: String { "scrape failed: \(self.reason)" }
}
