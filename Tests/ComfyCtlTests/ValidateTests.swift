// `comfyctl validate` against comfy-init serving the stand-in ComfyUI on this host (no Docker): every
// row passes on a good server, and each way of being wrong fails the rows it should, with exit 1; no
// server at all is exit 17.
import Bcrypt
import Foundation
import Testing

@testable import ComfyCtlKit

@Suite(.serialized) struct ValidateTests {
  struct Report: Decodable {
    var url: String
    var passed: Bool
    var rows: [ValidationRow]
  }

  @Test(.timeLimit(.minutes(10))) func failedRowsAndExitCodesOnAWrongServer() throws {
    let bin = try #require(CtlPaths.comfyctl, "build comfyctl first")
    try #require(FileManager.default.isExecutableFile(atPath: CtlPaths.comfyInit), "run scripts/build first")
    let (dir, project) = makeProject("validate")
    let host = HostComfyUI()
    defer { host.stop() }
    #expect(try runTool([bin, "secrets", "init", "--project-dir", dir.path]).status == 0)
    let credential = try SecretsStore(project: project).load()
    let validate = { (args: [String]) throws -> RunResult in
      try runTool([bin, "validate", "--project-dir", dir.path] + args, timeout: 120)
    }
    let report = { (result: RunResult) throws -> Report in
      try JSONDecoder().decode(Report.self, from: Data(result.stdout.utf8))
    }

    // A good server, found from COMFYUI_HOST_PORT in .env as `validate` without --url finds it.
    try host.start(hashFile: project.hashFile)
    dir.write(".env", dir.read(".env") + "COMFYUI_HOST_PORT='\(host.port)'\n")
    let good = try validate([])
    #expect(good.status == 0, "\(good.all)")
    #expect(good.stdout.contains("all 20 auth checks passed at \(host.url)"), "\(good.all)")
    #expect(good.stdout.contains("PASS  generates an image"), "\(good.all)")

    // A stack started with a GPU (stated here: a host-run server has no container to inspect) whose
    // server reports only the CPU: the device row fails, and only it. --expect-cpu: any device passes.
    let onCPU = try validate(["--expect-gpu", "--json"])
    #expect(onCPU.status == CtlExitCode.checkFailed.rawValue, "\(onCPU.all)")
    let cpuRows = try report(onCPU).rows.filter { !$0.passed }
    #expect(cpuRows.map(\.name) == ["/system_stats reports a device"], "\(cpuRows)")
    #expect(cpuRows.first?.observed == "1 (cpu) of type cpu", "\(cpuRows)")
    #expect(try validate(["--expect-cpu"]).status == 0)
    #expect(try validate(["--expect-cpu", "--expect-gpu"]).status == 64)

    // A wrong token in .env (both names, so only the server can tell): that row fails, with the 401.
    let stale = try Bcrypt.hash(password: "an older password", cost: 4)
    var env = try EnvFile.load(project.envFile)
    for key in EnvConsolidator.tokenKeys { env.set(key, stale) }
    try env.save(project.envFile)
    let wrongToken = try validate(["--json"])
    #expect(wrongToken.status == CtlExitCode.checkFailed.rawValue, "\(wrongToken.all)")
    #expect(wrongToken.stderr == "comfyctl: 1 of 20 auth checks failed at \(host.url)\n")
    let wrongRows = try report(wrongToken).rows
    #expect(wrongRows.filter { !$0.passed }.map(\.name) == ["the token in .env is the server's"], "\(wrongRows)")
    #expect(wrongRows.first { !$0.passed }?.observed == "401")
    #expect(!wrongToken.all.contains(credential.hash) && !wrongToken.all.contains(credential.password))

    // The two names disagree: the row says so without asking the server.
    env.set("COMFYUI_API_TOKEN", credential.hash)
    try env.save(project.envFile)
    let differ = try report(try validate(["--json"])).rows.filter { !$0.passed }
    #expect(differ.map(\.observed) == ["the two keys differ"], "\(differ)")
    for key in EnvConsolidator.tokenKeys { env.set(key, credential.hash) }
    try env.save(project.envFile)

    // Auth off (COMFYUI_AUTH=none disables ComfyUI-Login): every row that needs a refusal or the login
    // form fails, and the text output names them.
    try host.start(hashFile: project.hashFile, extra: ["COMFYUI_AUTH": "none"])
    let open = try validate(["--json"])
    #expect(open.status == CtlExitCode.checkFailed.rawValue, "\(open.all)")
    let openRows = try report(open)
    #expect(!openRows.passed)
    let failed = Dictionary(uniqueKeysWithValues: openRows.rows.filter { !$0.passed }.map { ($0.name, $0.observed) })
    #expect(failed["GET /system_stats without credentials"] == "200", "\(failed)")
    #expect(failed["GET /system_stats without credentials (Accept: text/html)"]?.hasPrefix("200") == true)
    #expect(failed["raw password as bearer token (must be refused)"] == "200", "\(failed)")
    #expect(failed["POST /login, right password"] != nil && failed["POST /login, wrong password"] != nil)
    #expect(openRows.rows.first { $0.name == "Authorization: Bearer <hash>" }?.passed == true)
    let text = try validate([])
    #expect(text.status == CtlExitCode.checkFailed.rawValue)
    #expect(text.stdout.contains("FAIL  GET /system_stats without credentials "), "\(text.stdout)")
    #expect(text.stderr == "comfyctl: \(failed.count) of 20 auth checks failed at \(host.url)\n", "\(text.all)")

    // No server: one line and its own code, not ten failed rows.
    host.stop()
    let none = try validate([])
    #expect(none.status == CtlExitCode.serverUnreachable.rawValue, "\(none.all)")
    #expect(none.stdout.isEmpty)
    #expect(none.stderr.hasPrefix("comfyctl: no ComfyUI answers at \(host.url) ("), "\(none.stderr)")
    #expect(none.stderr.hasSuffix("; start it with `comfyctl up`\n"), "\(none.stderr)")
  }
}
