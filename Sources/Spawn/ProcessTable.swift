// The machine's other processes, as /proc shows them: which are alive, and their /proc files. Which of
// them carry comfy-init's tool mark in their environment is asked of comfy-init's Config, the one reader
// of environments (ToolLedger).
#if canImport(Glibc)
  import Glibc
#endif

public enum ProcessTable {
  /// Live processes (not zombies) but this one.
  public static func others() -> [pid_t] {
    let me = getpid()
    return pids().filter { $0 != me && !hasEnded($0) }
  }

  /// Gone, or a zombie.
  public static func hasEnded(_ pid: pid_t) -> Bool {
    let stat = read("/proc/\(pid)/stat")
    guard let close = stat.lastIndex(of: UInt8(ascii: ")")), close + 2 < stat.count else { return true }
    return stat[close + 2] == UInt8(ascii: "Z")
  }

  private static func pids() -> [pid_t] {
    guard let dir = opendir("/proc") else { return [] }
    defer { closedir(dir) }
    var found: [pid_t] = []
    while let entry = readdir(dir) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
      }
      if let pid = pid_t(name) { found.append(pid) }
    }
    return found
  }

  /// A /proc file (its size says 0), up to 1 MiB; empty when it cannot be read (another uid's).
  public static func read(_ path: String) -> [UInt8] {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { return [] }
    defer { close(fd) }
    var result = [UInt8]()
    var chunk = [UInt8](repeating: 0, count: 16384)
    while result.count < 1 << 20 {
      let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
      if n < 0 && errno == EINTR { continue }
      if n <= 0 { break }
      result += chunk[0..<n]
    }
    return result
  }
}
