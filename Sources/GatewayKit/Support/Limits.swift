// Each client connection holds a descriptor (two with its upstream one): the soft limit is raised to the
// hard one at start, so the gate is limited by what the container allows, not by a low default.
#if canImport(Glibc)
  import Glibc
#endif

enum Limits {
  static func raiseOpenFiles(log: GateLog) {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
    limit.rlim_cur = limit.rlim_max
    if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) != 0 {
      log.warn("cannot raise the open-file limit to \(limit.rlim_max): \(String(cString: strerror(errno)))")
    }
  }

  /// The soft limit on open descriptors now.
  static var openFiles: Int {
    var limit = rlimit()
    guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else { return 1024 }
    return limit.rlim_cur > rlim_t(Int32.max) ? Int(Int32.max) : Int(limit.rlim_cur)
  }
}
