// `comfy-init health`: Docker's HEALTHCHECK. Its answer is one line on stdout and exit 0 (healthy)
// or not; what is unhealthy is an answer, not a failure of comfy-init, so it is printed here.
#if canImport(Glibc)
  import Glibc
#endif

enum HealthCommand {
  static func run(_ args: [String]) throws(InitError) -> Int32 {
    var timeout = 5.0
    var showProgress = false
    var rest = args[...]
    while let flag = rest.popFirst() {
      if flag == "--progress" {
        showProgress = true
        continue
      }
      guard flag == "--timeout", let value = rest.popFirst(), let seconds = Double(value), seconds > 0 else {
        throw InitError(.usage, "usage: comfy-init health [--timeout SECONDS] [--progress]")
      }
      timeout = seconds
    }
    // The health check needs no credential (it reads the token from login/PASSWORD) and no Hub token.
    let config: Config
    do { config = try CLI.loadConfig(flags: [], readSecrets: false) } catch {
      print("config: \(error.message)")
      return 1
    }
    // A `docker exec` as root reads PUID's files as PUID (a planted link leads nowhere).
    if let owner = config.owner, getuid() == 0 {
      do { try Bootstrap.become(uid: owner.uid, gid: owner.gid) } catch {
        print(error.message)
        return 1
      }
    }
    let (code, line) = HealthCheck(config: config, timeout: timeout, showProgress: showProgress).run()
    print(line)
    return code
  }
}
