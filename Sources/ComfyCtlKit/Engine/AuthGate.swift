// The gate every start passes (`up`, `restart`, `secrets rotate --restart`) before comfyctl calls the
// stack healthy. Docker's "healthy" comes from an authenticated check, which passes just as well when
// the server lets everyone in (ComfyUI-Login not loaded: COMFYUI_ARGS=--disable-all-custom-nodes, a
// stale custom_nodes volume). So each service must also refuse a caller without credentials; those that
// do not are stopped at once, so that nothing stays open.

extension Stack {
  func stopUnlessAuthEnforced(_ services: [String]) throws(CtlError) {
    var open: [(service: String, why: String)] = []
    for service in services {
      guard let instance = instance(for: service) else { continue }
      let port = settings.port(of: instance)
      if let row = AuthProbe(baseURL: settings.url(of: instance)).checkAnonymousAccess().first(where: { !$0.passed }) {
        let answer = row.observed.hasPrefix("no answer") ? "got \(row.observed)" : "answered \(row.observed)"
        open.append((service, "\(row.name) \(answer) on port \(port)"))
      }
    }
    guard !open.isEmpty else { return }
    let stopped = engine.stop(open.map(\.service))
    let outcome =
      stopped?.succeeded == true
      ? (open.count == 1 ? "the service was stopped" : "the services were stopped")
      : "stopping failed (\(stopped?.lastLine ?? "docker compose stop did not run")); run `comfyctl down` now"
    throw CtlError(
      .authNotEnforced,
      "auth not enforced: \(open.map(\.why).joined(separator: "; ")); \(outcome) "
        + "(is ComfyUI-Login loaded? see `comfyctl logs`)")
  }
}
