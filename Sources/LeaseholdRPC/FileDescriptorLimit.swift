#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's limit on open file descriptors (`RLIMIT_NOFILE`), which bounds its connections.
public enum FileDescriptorLimit {
    /// The soft and hard limits now.
    public static var current: (soft: UInt64, hard: UInt64) {
        var limit = rlimit()
        guard getrlimit(Self.resource, &limit) == 0 else { return (0, 0) }
        return (UInt64(limit.rlim_cur), UInt64(limit.rlim_max))
    }

    /// Raises the soft limit towards `wanted`, as far as the hard limit allows; never lowers it.
    /// - Parameter wanted: The descriptors the process wants to be able to hold.
    /// - Returns: The soft limit afterwards.
    @discardableResult
    public static func raise(to wanted: UInt64) -> UInt64 {
        var limit = rlimit()
        guard getrlimit(Self.resource, &limit) == 0 else { return 0 }
        let target = min(wanted, UInt64(limit.rlim_max))
        guard target > UInt64(limit.rlim_cur) else { return UInt64(limit.rlim_cur) }
        limit.rlim_cur = rlim_t(target)
        guard setrlimit(Self.resource, &limit) == 0 else { return Self.current.soft }
        return target
    }

    #if canImport(Glibc)
    private static let resource = __rlimit_resource_t(UInt32(RLIMIT_NOFILE.rawValue))
    #else
    private static let resource = RLIMIT_NOFILE
    #endif
}
