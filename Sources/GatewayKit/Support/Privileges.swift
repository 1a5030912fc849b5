// Started as root by comfy-init, the gate becomes another user than the server's before it opens its
// port: the server's code then cannot signal it, trace it or read its memory.
import CGateway

#if canImport(Glibc)
  import Glibc
#endif

enum Privileges {
  struct Failure: Error, CustomStringConvertible {
    var description: String
  }

  /// Drops every privilege for `uid:gid`, for good (real, effective and saved ids; no groups).
  static func become(uid: uid_t, gid: gid_t) throws {
    // As root, setgid and setuid set the real, effective and saved ids alike.
    guard setgroups(0, nil) == 0, setgid(gid) == 0, setuid(uid) == 0 else {
      throw Failure(description: "cannot become uid \(uid) gid \(gid): \(String(cString: strerror(errno)))")
    }
    guard getuid() == uid, geteuid() == uid, getgid() == gid else {
      throw Failure(description: "still not uid \(uid) gid \(gid) after dropping privileges")
    }
  }

  /// Nothing of the same uid may trace the gate or read its memory; and it ends with its parent.
  static func protectProcess(parentDeathSignal: Int32?) {
    _ = cgateway_set_nondumpable()
    if let parentDeathSignal { _ = cgateway_set_parent_death_signal(parentDeathSignal) }
  }

  /// "UID:GID" as the --user flag takes it.
  static func parse(_ text: String) -> (uid: uid_t, gid: gid_t)? {
    let parts = text.split(separator: ":", omittingEmptySubsequences: false)
    guard parts.count == 2, let uid = UInt32(parts[0]), let gid = UInt32(parts[1]) else { return nil }
    return (uid, gid)
  }
}
