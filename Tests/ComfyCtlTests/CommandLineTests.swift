// comfyctl as people run it: one-line errors with their own exit codes, consolidate's report,
// down's confirmation and --reset-auth.
import Foundation
import Testing

@testable import ComfyCtlKit

@Suite struct CommandLineTests {
  @Test func consolidateReportsConflictsAndChangesNothing() throws {
    let bin = try #require(CtlPaths.comfyctl, "build comfyctl first")
    let dir = CtlTempDir("cli-cons")
    dir.write(".env", "PORT=1\nCOMFYUI_API_TOKEN='secret-a'\n")
    dir.write("b.env", "PORT=2\nCOMFYUI_BEARER_TOKEN='secret-b'\n")
    let result = try runTool([bin, "env", "consolidate", ".env", "b.env"], directory: dir.path)
    #expect(result.status == CtlExitCode.envConflict.rawValue)
    #expect(result.stderr.contains("conflict PORT: "))
    #expect(!result.all.contains("secret-a") && !result.all.contains("secret-b"))  // masked
    #expect(result.stderr.split(separator: "\n").last?.hasPrefix("comfyctl: conflicting values for") == true)
    #expect(dir.read("b.env") == "PORT=2\nCOMFYUI_BEARER_TOKEN='secret-b'\n")

    let settled = try runTool(
      [bin, "env", "consolidate", ".env", "b.env", "--prefer", "b.env"], directory: dir.path)
    #expect(settled.status == 0, "\(settled.all)")
    #expect(settled.stdout.contains("linked \(dir.file("b.env"))"))
    #expect(FileOps.isSymlink(dir.file("b.env")))
    let master = try EnvFile.load(dir.file(".env"))
    #expect(master.value("PORT") == "2")
    #expect(master.value("COMFYUI_API_TOKEN") == "secret-b")
  }

  @Test func usageErrorsKeepArgumentParsersCode() throws {
    let bin = try #require(CtlPaths.comfyctl, "build comfyctl first")
    let result = try runTool([bin, "up", "--profile", "nope"])
    #expect(result.status == CtlExitCode.usage.rawValue)
    #expect(result.stderr.contains("unknown profile 'nope'"))
  }

  @Test(.needs(.docker)) func downDeepNeedsConfirmationAndResetAuthBacksUpFirst() throws {
    let bin = try #require(CtlPaths.comfyctl, "build comfyctl first")
    let (dir, project) = makeProject("cli-down")
    #expect(try runTool([bin, "secrets", "init", "--project-dir", dir.path]).status == 0)
    let credential = try SecretsStore(project: project).load()

    let refused = try runTool([bin, "down", "--deep", "--project-dir", dir.path])
    #expect(refused.status == CtlExitCode.confirmationRequired.rawValue)

    let reset = try runTool([bin, "down", "--reset-auth", "--project-dir", dir.path])
    #expect(reset.status == 0, "\(reset.all)")
    #expect(!FileOps.exists(project.storeFile) && !FileOps.exists(project.hashFile))
    #expect(try EnvFile.load(project.envFile).value("COMFYUI_BEARER_TOKEN") == nil)
    let backups = try FileManager.default.contentsOfDirectory(atPath: project.secretsDir).filter {
      $0.hasPrefix("backup-")
    }
    let backup = try #require(backups.first)
    #expect(mode(of: project.secretsDir + "/" + backup) == 0o700)
    let saved = project.secretsDir + "/" + backup + "/comfyui_auth_tokens.conf"
    #expect(mode(of: saved) == 0o600)
    #expect(try EnvFile.load(saved).value("COMFYUI_PASSWORD_HASH") == credential.hash)
  }
}
