// One download of a DEST at a time, across every instance sharing the models volume: an flock on
// models/.comfy-init/locks/HASH.lock while the file is fetched, plus a heartbeat line in it (boot id,
// pid, host, time) rewritten every few seconds. The flock alone is enough on a local volume, on NFS v4
// (the Linux client turns flock into a server-side lock, freed when the holder's lease runs out) and
// on CephFS; the heartbeat covers filesystems whose locks stay on one node (NFS mounted with
// local_lock, some CSI drivers): a fresh heartbeat from another boot is respected even when the flock
// is free, and one silent for `staleAfter` is taken over. A holder that died on this kernel loses its
// flock at once and is taken over at once.
import Digest

#if canImport(Glibc)
  import Glibc
#endif

final class DestinationLock {
  enum Outcome: Equatable {
    case held
    /// Someone else downloads it; who, as their heartbeat says.
    case busy(String)
  }

  static let heartbeatInterval = 5.0
  static let staleAfter = 60.0

  let dest: String
  let path: String
  private var fd: Int32 = -1
  private var beatAt = Instant.now()

  init(dest: String, layout: HomeLayout) {
    self.dest = dest
    path = layout.modelLocksDir + "/" + SHA256.hexHash(dest) + ".lock"
  }

  deinit { release() }

  var isHeld: Bool { fd >= 0 }

  /// This kernel's boot: a holder with the same one is seen by our flock.
  static let bootID: String = {
    let text = FileSystem.readText("/proc/sys/kernel/random/boot_id") ?? ""
    let id = text.trimmingWhitespace()
    return id.isEmpty ? "unknown" : id
  }()

  static let hostName: String = {
    var buffer = [CChar](repeating: 0, count: 256)
    guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
    let name = String(cString: buffer)
    return name.isEmpty || name.contains(" ") ? "unknown" : name
  }()

  /// Takes the lock if no live holder has it. Throws only when the lock file cannot be made.
  func take() throws(InitError) -> Outcome {
    if fd >= 0 { return .held }
    do { try FileSystem.makeDirectories(FileSystem.parent(of: path)) } catch {
      throw InitError(.models, "cannot create \(FileSystem.parent(of: path)) (\(error)); make ComfyUI/models writable")
    }
    let opened = open(path, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0o644)
    guard opened >= 0, FileSystem.isRegular(opened) else {
      if opened >= 0 { close(opened) }
      throw InitError(
        .models, "cannot open \(path): \(String(cString: strerror(errno))); move it away or make the volume writable")
    }
    guard flock(opened, LOCK_EX | LOCK_NB) == 0 else {
      let holder = DestinationLock.describe(DestinationLock.readLine(opened))
      close(opened)
      return .busy(holder)
    }
    let line = DestinationLock.readLine(opened)
    let fields = line.split(separator: " ")
    if fields.count >= 4, String(fields[0]) != DestinationLock.bootID {
      var st = stat()
      fstat(opened, &st)
      let age = Double(wallClockSeconds() - Int(st.st_mtim.tv_sec))
      if age < DestinationLock.staleAfter {
        flock(opened, LOCK_UN)
        close(opened)
        return .busy(DestinationLock.describe(line) + " on another node")
      }
      Log.warn(
        "models: \(dest): taking over the download from \(DestinationLock.describe(line)), silent for \(Int(age)) s")
    }
    fd = opened
    beat()
    return .held
  }

  /// Rewrites the heartbeat when it is due (the download loop calls this often).
  func beatIfDue() {
    if fd >= 0, beatAt.secondsSince >= DestinationLock.heartbeatInterval { beat() }
  }

  private func beat() {
    beatAt = Instant.now()
    let line = Array("\(DestinationLock.bootID) \(getpid()) \(DestinationLock.hostName) \(wallClockSeconds())\n".utf8)
    ftruncate(fd, 0)
    _ = line.withUnsafeBytes { pwrite(fd, $0.baseAddress, $0.count, 0) }
  }

  /// Empties the heartbeat and lets go (the file stays: removing it would race a waiter's open).
  func release() {
    guard fd >= 0 else { return }
    ftruncate(fd, 0)
    flock(fd, LOCK_UN)
    close(fd)
    fd = -1
  }

  private static func readLine(_ fd: Int32) -> String {
    var buffer = [UInt8](repeating: 0, count: 512)
    let n = buffer.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, 0) }
    guard n > 0 else { return "" }
    return String(decoding: buffer[..<n], as: UTF8.self).trimmingWhitespace()
  }

  /// "pid 12 on host gpu-2" from a heartbeat line.
  private static func describe(_ line: String) -> String {
    let fields = line.split(separator: " ")
    guard fields.count >= 4 else { return "another comfy-init" }
    return "comfy-init pid \(fields[1]) on \(fields[2])"
  }
}
