// `comfy-init hash-password`: a password on stdin, its bcrypt hash on stdout (for
// COMFYUI_PASSWORD_HASH_FILE).
import Bcrypt

#if canImport(Glibc)
  import Glibc
#endif

enum HashPasswordCommand {
  static func run(_ args: [String]) throws(InitError) -> Int32 {
    var cost = Bcrypt.defaultCost
    if args.count == 2, args[0] == "--cost", let n = Int(args[1]) {
      cost = n
    } else if !args.isEmpty {
      throw InitError(.usage, "usage: comfy-init hash-password [--cost N] < password")
    }
    var input = [UInt8]()
    var chunk = [UInt8](repeating: 0, count: 4096)
    while true {
      let n = chunk.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
      if n <= 0 { break }
      input.append(contentsOf: chunk[0..<n])
    }
    let password = String(decoding: input, as: UTF8.self).droppingLineEnd()
    guard !password.isEmpty, password.utf8.count <= 72 else {
      throw InitError(.credential, "the password on stdin must be 1 to 72 bytes (bcrypt's limit)")
    }
    do {
      print(try Bcrypt.hash(password: password, cost: cost))
      return 0
    } catch {
      throw InitError(.usage, "\(error)")
    }
  }
}
