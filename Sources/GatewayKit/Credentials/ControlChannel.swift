// How comfy-init hands the gate its credential: lines on a pipe (the gate's stdin), never argv, the
// environment or a file the server's uid could rewrite. The pipe's end of file means comfy-init is gone:
// the gate stops, so it never outlives the init that supervises the server behind it.
//
//   user NAME             ComfyUI-Login's user name (the rest of the line)
//   hash BCRYPT           the PASSWORD hash, which is also the API token
//   session-key HEX       the key the session cookies are signed with (from the state folder)
//   commit                installs the three above at once
import Digest

#if canImport(Glibc)
  import Glibc
#endif

public enum ControlChannel {
  /// Reads `fd` until end of file, installing each committed credential. Blocking: run it on its own thread.
  public static func follow(fd: Int32, store: CredentialStore, log: GateLog) {
    var pending: (user: String?, hash: String?, key: [UInt8]?) = (nil, nil, nil)
    forEachLine(of: fd) { line in
      guard let space = line.firstIndex(of: " ") ?? (line == "commit" ? line.endIndex : nil) else {
        log.warn("control: ignoring a line without a value")
        return
      }
      let word = line[..<space]
      let value = space < line.endIndex ? String(line[line.index(after: space)...]) : ""
      switch word {
      case "user": pending.user = value
      case "hash": pending.hash = value
      case "session-key": pending.key = bytes(fromHex: value)
      case "commit":
        guard let user = pending.user, let hash = pending.hash, let key = pending.key, !hash.isEmpty,
          key.count >= 16
        else {
          log.warn("control: commit without a user, a hash and a session key of 16 bytes or more; ignored")
          return
        }
        store.install(Credential(user: user, hash: hash), sessionKey: key)
        log.info("credential received for user \(user)")
      default: log.warn("control: unknown word \(word); ignored")
      }
    }
  }

  /// Calls `body` with each line of `fd` (without its end) as it arrives, until end of file or an
  /// error. A line over 64 KiB is cut.
  static func forEachLine(of fd: Int32, _ body: (String) -> Void) {
    var buffer: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
      let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n < 0 && errno == EINTR { continue }
      if n <= 0 { return }
      for byte in chunk[0..<n] {
        if byte == UInt8(ascii: "\n") {
          body(String(decoding: buffer, as: UTF8.self))
          buffer.removeAll(keepingCapacity: true)
        } else if buffer.count < 65536 {
          buffer.append(byte)
        }
      }
    }
  }
}
