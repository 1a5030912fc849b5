// comfy-gateway's command line. `gate`: the one HTTP server in front of one ComfyUI, as comfy-init
// starts it (the credential on a pipe) or by hand (--password-hash-file).
import ArgumentParser
import Digest
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOSSL
import Synchronization
import Version

public struct GatewayCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "comfy-gateway",
    abstract: "The gate in front of ComfyUI: every request needs a credential.",
    version: "comfy-gateway \(Version.description)",
    subcommands: [GateCommand.self],
    defaultSubcommand: GateCommand.self
  )

  public init() {}

  /// Parses and runs, on the main thread: the privilege drop must happen before any other thread exists.
  /// (An async main would park the main thread in dispatch_main, where glibc's setuid no longer reaches
  /// it: the process would go on showing uid 0 and every capability.)
  public static func start() { main() }
}

/// Exit codes: 0 stopped (comfy-init ended, or a stop signal); 2 usage; 3 a file it was given cannot be
/// read; 4 the privilege drop failed; 5 the port cannot be opened.
struct GateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gate", abstract: "Serve one ComfyUI behind the gate.")

  @Option(help: "Address to listen on (one address; 0.0.0.0 or :: for all).") var listen = "0.0.0.0"
  @Option(help: "Port to listen on.") var port = 8188
  @Option(help: "ComfyUI's loopback address, as http://127.0.0.1:PORT.") var upstream = "http://127.0.0.1:18188"
  @Option(help: "Read the credential from this descriptor (comfy-init's pipe); its end of file stops the gate.")
  var credentialsFd: Int32?
  @Option(help: "Read the credential from this file instead: ComfyUI-Login's PASSWORD format (hash, then user).")
  var passwordHashFile: String?
  @Option(help: "The session signing key's file (hex), with --password-hash-file; a new key per start without it.")
  var sessionKeyFile: String?
  @Option(help: "PEM certificate chain: serve HTTPS.") var tlsCert: String?
  @Option(help: "PEM private key for --tls-cert.") var tlsKey: String?
  @Option(help: "A proxy (address or CIDR) whose X-Forwarded-For and X-Forwarded-Proto are believed; repeatable.")
  var trustedProxy: [String] = []
  @Flag(help: "Guests (no credential) may use the UI and run workflows (an explicit allow-list).") var guestMode = false
  @Option(help: "Seconds a browser session lasts.") var sessionMaxAge = 7 * 24 * 3600
  @Option(help: "UID:GID to become before listening (when started as root).") var user: String?
  @Flag(help: "Log every request (targets with tokens cut out).") var accessLog = false
  @Option(help: "Seconds a new connection has to send its first request's head.") var headerDeadline = 20
  @Option(help: "Seconds an HTTP connection may stay without a byte either way (a WebSocket may).")
  var idleTimeout = 300
  @Option(help: "Connections one client address may hold at once (default: from the open-file limit).")
  var maxConnectionsPerClient: Int?

  mutating func validate() throws {
    guard (1...65535).contains(port) else { throw ValidationError("--port \(port) is not a port; use 1 to 65535") }
    let authority =
      upstream.hasPrefix("http://") ? upstream.dropFirst("http://".count).split(separator: "/").first : nil
    guard let authority, let colon = authority.lastIndex(of: ":"),
      let upstreamPort = Int(authority[authority.index(after: colon)...]),
      (1...65535).contains(upstreamPort), upstream.dropFirst("http://".count).count == authority.count
    else {
      throw ValidationError("--upstream must be http://HOST:PORT (ComfyUI on loopback), e.g. http://127.0.0.1:18188")
    }
    guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
    guard (credentialsFd == nil) != (passwordHashFile == nil) else {
      throw ValidationError("give exactly one of --credentials-fd and --password-hash-file")
    }
    guard sessionMaxAge > 0 else { throw ValidationError("--session-max-age must be positive") }
    guard headerDeadline > 0, idleTimeout > 0, (maxConnectionsPerClient ?? 1) > 0 else {
      throw ValidationError("--header-deadline, --idle-timeout and --max-connections-per-client must be positive")
    }
    for proxy in trustedProxy where AddressRange(proxy) == nil {
      throw ValidationError("--trusted-proxy \(proxy) is not an address or CIDR range")
    }
    if let user, Privileges.parse(user) == nil { throw ValidationError("--user \(user) is not UID:GID") }
  }

  func run() throws {
    let log = GateLog()
    guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("--tls-cert and --tls-key go together") }
    let store = CredentialStore()
    // Everything that needs the starting user's rights is read before the drop.
    var tlsSettings: TLSConfiguration? = nil
    do {
      if let tlsCert, let tlsKey {
        let chain = try NIOSSLCertificate.fromPEMFile(tlsCert).map { NIOSSLCertificateSource.certificate($0) }
        let key = try NIOSSLPrivateKey(file: tlsKey, format: .pem)
        tlsSettings = TLSConfiguration.makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key))
      }
      if let passwordHashFile {
        let text = try String(contentsOfFile: passwordHashFile, encoding: .utf8)
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        let hash = lines.first.map { String($0).trimmingCharacters(in: .whitespacesAndNewlines) } ?? ""
        let name = lines.count > 1 ? String(lines[1]).trimmingCharacters(in: .whitespacesAndNewlines) : "admin"
        guard !hash.isEmpty else { throw ValidationError("\(passwordHashFile) holds no hash on its first line") }
        let key =
          try sessionKeyFile.flatMap {
            bytes(
              fromHex: try String(contentsOfFile: $0, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines))
          } ?? randomBytes(32)
        store.install(Credential(user: name.isEmpty ? "admin" : name, hash: hash), sessionKey: key)
      }
    } catch {
      log.error("cannot read a file it was given: \(error)")
      throw ExitCode(3)
    }
    if let user, let ids = Privileges.parse(user) {
      do { try Privileges.become(uid: ids.uid, gid: ids.gid) } catch {
        log.error("\(error)")
        throw ExitCode(4)
      }
    }
    Privileges.protectProcess(parentDeathSignal: credentialsFd == nil ? nil : SIGTERM)
    if let fd = credentialsFd {
      let thread = Thread {
        ControlChannel.follow(fd: fd, store: store, log: log)
        log.info("comfy-init closed the control channel; stopping")
        Foundation.exit(0)
      }
      thread.start()
    }

    Limits.raiseOpenFiles(log: log)
    let tls = tlsSettings
    let outcome = runBlocking { try await serve(store: store, tls: tls, log: log) }
    if case .failure(let error) = outcome { throw error }
  }

  /// The server itself, once the process is what it will stay (its uid, its limits).
  private func serve(store: CredentialStore, tls: TLSConfiguration?, log: GateLog) async throws {
    let client = Forwarder.makeClient()
    let wsUpstream = "ws://" + upstream.dropFirst("http://".count)
    let gate = Gate(
      settings: GateSettings(
        guestMode: guestMode, sessionMaxAge: sessionMaxAge,
        clientAddress: ClientAddress(trusted: trustedProxy.compactMap(AddressRange.init), tls: tls != nil),
        accessLog: accessLog),
      authenticator: Authenticator(store: store, throttle: LoginThrottle(), verified: VerifiedCache()),
      forwarder: Forwarder(client: client, upstream: upstream, log: log),
      relay: WebSocketRelay(upstream: String(wsUpstream), log: log),
      readiness: Readiness(client: client, upstream: upstream, store: store),
      log: log)

    // Bounded headers (ComfyUI-Login's own cookie is about 200 bytes), idle connections closed.
    let http1 = HTTP1Channel.Configuration(
      idleTimeout: .seconds(120),
      httpDecoderConfiguration: .init(
        maxHeaderFieldSize: 16 * 1024, maxHeaderListSize: 64 * 1024, maxHeaderFieldCount: 200))
    var limits = ConnectionLimits.forThisProcess()
    limits.headerDeadline = .seconds(Int64(headerDeadline))
    limits.idleTimeout = .seconds(Int64(idleTimeout))
    if let maxConnectionsPerClient { limits.perClient = min(maxConnectionsPerClient, limits.total) }
    let connections = limits
    let upgrade = HTTP1WebSocketUpgradeChannel.Configuration(http1: http1, ws: .init(maxFrameSize: 1 << 26))
    var server = HTTPServerBuilder { responder in
      GuardedChannel(
        base: HTTP1WebSocketUpgradeChannel(responder: responder, configuration: upgrade) { head, channel, _ in
          await gate.shouldUpgrade(head, channel: channel)
        }, limits: connections)
    }
    if let tls { server = try .tls(server, tlsConfiguration: tls) }
    var logger = Logger(label: "comfy-gateway")
    logger.logLevel = .error
    let scheme = tls == nil ? "http" : "https"
    let app = Application(
      responder: gate, server: server,
      configuration: .init(address: .hostname(listen, port: port), serverName: nil),
      onServerRunning: { _ in log.info("listening on \(scheme)://\(listen):\(port), ComfyUI at \(upstream)") },
      logger: logger)
    do {
      try await app.runService()
    } catch {
      log.error("cannot serve on \(listen):\(port): \(error)")
      throw ExitCode(5)
    }
  }
}

/// Runs `body` on the concurrency pool and blocks the calling (main) thread until it ends: the main
/// thread stays an ordinary thread, which setuid and signals reach.
func runBlocking(_ body: @escaping @Sendable () async throws -> Void) -> Result<Void, any Error> {
  let done = DispatchSemaphore(value: 0)
  let outcome = Mutex<Result<Void, any Error>>(.success(()))
  Task {
    do { try await body() } catch { outcome.withLock { $0 = .failure(error) } }
    done.signal()
  }
  done.wait()
  return outcome.withLock { $0 }
}
