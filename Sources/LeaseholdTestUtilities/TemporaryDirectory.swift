import Foundation

/// A fresh folder under the system's temporary directory, removed by ``remove()``.
public struct TemporaryDirectory: Sendable {
    /// The folder's path.
    public let path: String

    /// Creates the folder.
    public init(_ label: String = "leasehold") throws {
        let path = NSTemporaryDirectory() + "\(label)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        self.path = path
    }

    /// A path inside the folder.
    public func file(_ name: String) -> String { self.path + "/" + name }

    /// Removes the folder and everything in it.
    public func remove() { try? FileManager.default.removeItem(atPath: self.path) }
}
