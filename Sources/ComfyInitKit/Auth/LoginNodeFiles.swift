// ComfyUI-Login's other files that decide who gets in, besides login/PASSWORD (PasswordFile):
// - login/GUEST_MODE: while it exists (any kind of entry: ComfyUI-Login asks os.path.exists), anyone
//   may log in as a guest. The server's uid can write it, and a volume keeps it: a start removes it
//   unless COMFYUI_GUEST_MODE=1 asks for guests.
// - custom_nodes/ComfyUI-Login/.secret-key.txt, the key its session cookies are encrypted with: whoever
//   reads it can forge a session, and a session lives as long as the key (30 days, renewed by
//   ComfyUI-Login only then; its cookies have no maximum age). ComfyUI-Login writes it with the umask's
//   mode (0644). A start keeps it 0600 and writes a new one whenever the password changed, so that
//   rotating the password ends every session.
#if canImport(Glibc)
  import Glibc
#endif

enum LoginNodeFiles {
  /// With auth on, at each start: login/GUEST_MODE exists only when COMFYUI_GUEST_MODE=1 asks for it.
  /// A switch that cannot be removed stops the start: the server would let guests in.
  static func applyGuestMode(_ config: Config) throws(InitError) {
    let path = config.layout.guestModeFile
    var st = stat()
    let present = lstat(path, &st) == 0
    if config.guestMode {
      guard !present || (st.st_mode & S_IFMT) == S_IFREG else { return }
      do {
        try FileSystem.makeDirectories(config.layout.loginDir, mode: 0o700)
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0o600)
        guard fd >= 0 || errno == EEXIST else { throw SystemError("create", path) }
        if fd >= 0 {
          close(fd)
          Log.info("auth: COMFYUI_GUEST_MODE=1: made \(path), so ComfyUI-Login offers guests a login")
        }
      } catch {
        throw InitError(.filesystem, "cannot make \(path) for COMFYUI_GUEST_MODE=1: \(error)")
      }
      return
    }
    guard present else { return }
    // A folder would count too: it is moved aside, a file (its content means nothing) removed.
    let aside = (st.st_mode & S_IFMT) == S_IFDIR ? FileSystem.moveAside(path) : nil
    guard aside != nil || unlink(path) == 0 else {
      throw InitError(
        .filesystem,
        "cannot remove \(path) (\(String(cString: strerror(errno)))), which lets anyone into ComfyUI as a guest; remove it, or set COMFYUI_GUEST_MODE=1 to allow guests"
      )
    }
    Log.warn(
      "auth: removed \(path)\(aside.map { " (moved to \($0))" } ?? ""): it lets anyone in as a guest; set COMFYUI_GUEST_MODE=1 to allow guests"
    )
  }

  /// After the auth phase: the session key is a 0600 file, and a new one when `renew` (PASSWORD was
  /// rewritten: a new credential) or when there is none (ComfyUI-Login would make it 0644). A key that
  /// cannot be written is a warning: ComfyUI-Login then makes its own.
  static func secureSessionKey(_ layout: HomeLayout, renew: Bool) {
    let path = layout.loginSessionKey
    guard FileSystem.isDirectory(FileSystem.parent(of: path)) else { return }
    if !renew {
      // Never through a link, never a FIFO; a plain file kept, only its mode tightened.
      let fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)
      var st = stat()
      let isFile = fd >= 0 && fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
      if isFile && (st.st_mode & 0o077) != 0 {
        if fchmod(fd, 0o600) == 0 {
          Log.warn("auth: \(path), ComfyUI-Login's session key, was readable by others; set its mode to 0600")
        }
      }
      if fd >= 0 { close(fd) }
      if isFile { return }
    }
    do {
      try FileSystem.writeAtomically(path, sessionKeyFile(), mode: 0o600)
      Log.info(
        renew
          ? "auth: new session key for ComfyUI-Login (login/PASSWORD was written: every session from before ends)"
          : "auth: made ComfyUI-Login's session key (\(path), mode 0600)")
    } catch {
      Log.warn("auth: cannot write ComfyUI-Login's session key \(path): \(error)")
    }
  }

  /// What ComfyUI-Login writes there: a Fernet key (32 random bytes, URL-safe base64), a comma, and
  /// the local time it was made in ISO form (`datetime.fromisoformat` reads it back; the key is
  /// renewed 30 days after it).
  static func sessionKeyFile() -> String {
    var random = SystemRandomNumberGenerator()
    let key = (0..<32).map { _ in UInt8.random(in: 0...255, using: &random) }
    var now = time(nil)
    var local = tm()
    localtime_r(&now, &local)
    func two(_ n: Int32) -> String { n < 10 ? "0\(n)" : "\(n)" }
    let date = "\(local.tm_year + 1900)-\(two(local.tm_mon + 1))-\(two(local.tm_mday))"
    let clock = "\(two(local.tm_hour)):\(two(local.tm_min)):\(two(local.tm_sec))"
    return urlSafeBase64(key) + "," + date + "T" + clock
  }

  /// RFC 4648's base64url alphabet, with padding (Python's base64.urlsafe_b64encode).
  static func urlSafeBase64(_ bytes: [UInt8]) -> String {
    let alphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_".utf8)
    var out: [UInt8] = []
    var index = 0
    while index < bytes.count {
      let chunk = bytes[index..<min(index + 3, bytes.count)]
      let value = chunk.enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (16 - 8 * UInt32($1.offset)) }
      for position in 0..<4 {
        out.append(
          position <= chunk.count ? alphabet[Int((value >> (18 - 6 * UInt32(position))) & 63)] : UInt8(ascii: "="))
      }
      index += 3
    }
    return String(decoding: out, as: UTF8.self)
  }
}
