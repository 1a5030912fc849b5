// The Compose project name: one per deployment folder, derived like Compose derives it, overridden
// by .env, recorded once, and the same for comfyctl and for Compose run by hand.
import Foundation
import Testing

@testable import ComfyCtlKit

@Suite struct ProjectNameTests {
  @Test(arguments: [
    ("comfy-init", "comfy-init"), ("My Deploy.V2", "mydeployv2"), ("_-stack_1", "stack_1"), ("Überstack", "berstack"),
    ("ComfyUI (prod)", "comfyuiprod"), ("...", ""),
  ])
  func aFolderNameBecomesWhatComposeAccepts(folder: String, name: String) {
    #expect(ProjectName.derive(fromFolder: folder) == name)
    #expect(name.isEmpty || ProjectName.isValid(name))
  }

  @Test func theFolderNameIsTheDefaultAndDotEnvOverridesIt() throws {
    let parent = CtlTempDir("names")
    let root = parent.file("Studio.Prod")
    try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
    let project = Project(root: root)
    func resolve() throws -> (name: String, isSet: Bool) {
      try ProjectName.resolve(settings: Settings(project: project, environment: [:]), project: project)
    }
    #expect(try resolve() == ("studioprod", false))
    parent.write("Studio.Prod/.env", "COMFYUI_PROJECT_NAME=studio\n")
    #expect(try resolve() == ("studio", true))
    // Compose lets COMPOSE_PROJECT_NAME win over the compose file's `name:`; so does comfyctl.
    parent.write("Studio.Prod/.env", "COMFYUI_PROJECT_NAME=studio\nCOMPOSE_PROJECT_NAME=other\n")
    #expect(try resolve() == ("other", true))
    parent.write("Studio.Prod/.env", "COMFYUI_PROJECT_NAME=Studio.Prod\n")
    let error = #expect(throws: CtlError.self) { try resolve() }
    #expect(error?.code == .badInput)
    #expect(error?.message.contains("e.g. studioprod") == true)
  }

  @Test func recordingKeepsTheRestOfDotEnv() throws {
    let (dir, project) = makeProject("names-record")
    dir.write(".env", "# mine\nCOMFYUI_HOST_PORT=8200\n")
    try ProjectName.record("studio", in: project)
    #expect(dir.read(".env").hasPrefix("# mine\nCOMFYUI_HOST_PORT=8200\n"))
    #expect(try EnvFile.load(project.envFile).value("COMFYUI_PROJECT_NAME") == "studio")
  }

  /// The compose file's `name:` and comfyctl's `-p` agree, and Compose by hand refuses to guess a name
  /// (rather than share another deployment's volumes).
  @Test(.needs(.docker)) func composeByHandUsesTheSameName() throws {
    let (dir, project) = makeProject("names-compose")
    dir.write(".secrets/comfyui_password_hash", "x\n")
    let byHand = ["/usr/bin/env", "docker", "compose", "--project-directory", ".", "-f", Project.composeFile]
    let recorded = try runTool(byHand + ["config", "--format", "json"], directory: dir.path)
    #expect(recorded.status == 0, "\(recorded.stderr)")
    let json = try JSONSerialization.jsonObject(with: Data(recorded.stdout.utf8)) as? [String: Any]
    let compose = try ComposeEngine(project: project, settings: Settings(project: project))
    #expect(json?["name"] as? String == compose.name)
    #expect(compose.baseArguments.contains(compose.name))

    dir.write(".env", "COMFYUI_HOST_PORT=8200\n")
    let unnamed = try runTool(byHand + ["config"], directory: dir.path)
    #expect(unnamed.status != 0)
    #expect(unnamed.stderr.contains("project name must not be empty"), "\(unnamed.stderr)")
  }

  @Test func aBadNameStopsEveryCommandWithOneLine() throws {
    let bin = try #require(CtlPaths.comfyctl, "build comfyctl first")
    let (dir, _) = makeProject("names-bad")
    dir.write(".env", "COMFYUI_PROJECT_NAME='My Stack'\n")
    for command in [["status"], ["down"], ["logs"], ["restart"]] {
      let result = try runTool([bin] + command + ["--project-dir", dir.path])
      #expect(result.status == CtlExitCode.badInput.rawValue, "\(command): \(result.all)")
      #expect(result.stderr.split(separator: "\n").count == 1 && result.stderr.contains("e.g. mystack"))
    }
  }
}
