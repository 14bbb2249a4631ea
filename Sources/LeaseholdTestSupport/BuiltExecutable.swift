import Foundation
import LeaseholdTestUtilities

/// The executables that `swift build` made for this package, for tests that run them as child processes.
///
/// ```swift
/// let leasehold = BuiltExecutable.path(named: "leasehold")  // <package>/.build/debug/leasehold
/// ```
public enum BuiltExecutable {
    /// The folder of the built products: `$LEASEHOLD_BIN_DIR` when set, else `.build/debug` in the package root
    /// (``PackageRoot``).
    public static var directory: String {
        if let directory = ProcessInfo.processInfo.environment["LEASEHOLD_BIN_DIR"], !directory.isEmpty {
            return directory
        }
        return PackageRoot.path(".build/debug")
    }

    /// The path of a built executable.
    /// - Parameter name: A product of `Package.swift`, such as `leasehold`, `fenced-resource` or `fencing-demo`.
    /// - Returns: Its path in ``directory``; it may not exist yet (run `swift build` first).
    public static func path(named name: String) -> String {
        Self.directory + "/" + name
    }
}
