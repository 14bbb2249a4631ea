import Foundation

/// The executables that `swift build` made for this package, for tests that run them as child processes.
///
/// ```swift
/// let leasehold = BuiltExecutable.path(named: "leasehold")  // <package>/.build/debug/leasehold
/// ```
public enum BuiltExecutable {
    /// The folder of the built products: `$LEASEHOLD_BIN_DIR` when set, else `.build/debug` in the package root,
    /// which is the nearest folder above this source file that holds `Package.swift`.
    public static var directory: String {
        if let directory = ProcessInfo.processInfo.environment["LEASEHOLD_BIN_DIR"], !directory.isEmpty {
            return directory
        }
        return Self.packageRoot.appendingPathComponent(".build/debug").path
    }

    /// The path of a built executable.
    /// - Parameter name: A product of `Package.swift`, such as `leasehold`, `fenced-resource` or `fencing-demo`.
    /// - Returns: Its path in ``directory``; it may not exist yet (run `swift build` first).
    public static func path(named name: String) -> String {
        Self.directory + "/" + name
    }

    /// The package root, found from this file's path at compile time, so that it holds whatever the working
    /// directory of the test run.
    private static let packageRoot: URL = {
        let thisFile = URL(fileURLWithPath: #filePath)
        var folder = thisFile.deletingLastPathComponent()
        while folder.pathComponents.count > 1 {
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent("Package.swift").path) {
                return folder
            }
            folder.deleteLastPathComponent()
        }
        // Not found (the tree moved after the build): where this file sits, Sources/LeaseholdTestSupport/.
        return thisFile.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }()
}
