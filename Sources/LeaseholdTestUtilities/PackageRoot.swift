import Foundation

/// The root of this package's checkout, for tests that run its scripts and built products.
///
/// ```swift
/// let script = PackageRoot.path("scripts/make-test-certs.sh")
/// ```
public enum PackageRoot {
    /// The nearest folder above this source file that holds `Package.swift`, found from the file's path at compile
    /// time, so that it holds whatever the working directory of the test run.
    private static let url: URL = {
        let thisFile = URL(fileURLWithPath: #filePath)
        var folder = thisFile.deletingLastPathComponent()
        while folder.pathComponents.count > 1 {
            if FileManager.default.fileExists(atPath: folder.appendingPathComponent("Package.swift").path) {
                return folder
            }
            folder.deleteLastPathComponent()
        }
        // Not found (the tree moved after the build): where this file sits, Sources/LeaseholdTestUtilities/.
        return thisFile.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    }()

    /// The path of `relativePath` (such as `scripts/make-test-certs.sh`) in the package.
    public static func path(_ relativePath: String) -> String {
        Self.url.appendingPathComponent(relativePath).path
    }
}
