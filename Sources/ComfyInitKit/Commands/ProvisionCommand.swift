// `comfy-init provision`: the models phase alone, e.g. `docker exec` after editing the manifest.
#if canImport(Glibc)
  import Glibc
#endif

enum ProvisionCommand {
  static func run(_ args: [String]) throws -> Int32 {
    var config = try CLI.loadConfig(flags: args)
    let supervisor = Supervisor(signals: try SignalChannel())
    try Bootstrap.dropPrivileges(config)
    Bootstrap.giveChildrenWritablePlaces(&config)
    // Best effort: the status file and the verification stamps live there.
    try? FileSystem.makeDirectories(config.layout.stateDir)
    let reporter = PhaseReporter.besideOthers(config.layout)
    reporter.report(.models)
    do {
      let summary = try ModelProvisioning(config: config, supervisor: supervisor, reporter: reporter).run()
      Log.info("models: " + summary)
      reporter.report(.bootstrapped)
      return 0
    } catch let error as InitError {
      reporter.failed(error)
      throw error
    } catch let stop as StopRequested {
      Log.info("\(Signals.name(stop.signal)): stopped; the next start resumes the downloads")
      reporter.report(.exited, detail: "provisioning stopped")
      return 0
    }
  }
}
