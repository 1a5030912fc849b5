// /readyz: the credential has arrived from comfy-init and ComfyUI answered an authenticated request
// within the last few seconds. The answer is cached, so a probe every second costs ComfyUI one cheap
// request (GET /prompt, the queue's size) every `freshFor` seconds at most.
import AsyncHTTPClient
import NIOCore
import Synchronization

final class Readiness: Sendable {
  let client: HTTPClient
  let upstream: String
  let store: CredentialStore
  let freshFor: Double
  private let lastAnswer = Mutex<Double>(-1e9)

  init(client: HTTPClient, upstream: String, store: CredentialStore, freshFor: Double = 2) {
    self.client = client
    self.upstream = upstream
    self.store = store
    self.freshFor = freshFor
  }

  /// nil when ready, else why not.
  func notReadyReason() async -> String? {
    guard let current = store.value else { return "waiting for comfy-init's credential (bootstrap running)" }
    let now = LoginThrottle.monotonicSeconds()
    if now - lastAnswer.withLock({ $0 }) < freshFor { return nil }
    var request = HTTPClientRequest(url: upstream + "/prompt")
    request.headers.add(name: "Authorization", value: Credential.bearer(current.credential.hash))
    do {
      let response = try await client.execute(request, timeout: .seconds(2))
      _ = try? await response.body.collect(upTo: 65536)
      guard response.status == .ok else { return "ComfyUI answered GET /prompt with \(response.status.code)" }
    } catch {
      return "ComfyUI is not answering yet"
    }
    lastAnswer.withLock { $0 = now }
    return nil
  }
}
