// Issue 12: the bundle a Docker-only machine gets. scripts/package packs what scripts/build made; the
// tarball is unpacked outside the checkout and used with a PATH that has no Swift: comfyctl needs only
// system libraries, answers with its version and commit, and `up --cpu` builds the image from the
// bundle's own Dockerfile and comfy-init (the stand-in sources through the local-source flags), which
// comes up healthy and validated, with OCI labels that say what comfy-init is inside. One image build.
import Foundation
import Testing
import Version

@testable import ComfyCtlKit

@Suite(.serialized) struct BundleTests {
  /// System folders only: no /opt/swift, nothing a developer added.
  static let systemPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

  /// What comfyctl reads from the real comfy-init for the labels, and when `status` warns.
  @Test func theVersionLineOfComfyInitIsReadAndOnlyAnotherVersionOrCommitWarns() throws {
    let line = try runTool([CtlPaths.comfyInit, "version"])
    let identity = try #require(InitBinary.parse(line.stdout), "\(line.all)")
    #expect(identity.version == Version.number && !identity.commit.isEmpty, "\(identity)")
    #expect(InitBinary.parse("comfy-init 0.1.0 (ComfyUI v0.8.0 by default)\n") == nil)
    let built = InitBinary(version: "0.1.0", commit: "abc1234")
    #expect(built.matches(InitBinary(version: "0.1.0", commit: "abc1234")))
    #expect(built.matches(InitBinary(version: "0.1.0", commit: "unknown")))
    #expect(!built.matches(InitBinary(version: "0.1.0", commit: "abc1234-dirty")))
    #expect(!built.matches(InitBinary(version: "0.2.0", commit: "abc1234")))
  }

  @Test(.needs(.docker), .timeLimit(.minutes(10))) func theUnpackedBundleRunsAValidatedStackWithoutSwift() throws {
    let root = CtlPaths.root
    // The debootstrapped base stands in for the CUDA image, which no registry here could give.
    let base = try runTool([root + "/scripts/base-image", EndToEndDockerTests.baseImage], timeout: 600)
    try #require(base.status == 0, "scripts/base-image failed: \(base.all)")
    let packaged = try runTool([root + "/scripts/package"], directory: root, timeout: 300)
    try #require(packaged.status == 0, "scripts/package failed: \(packaged.all)")
    let sums = try String(contentsOfFile: root + "/dist/SHA256SUMS", encoding: .utf8)
    let tarball = try #require(
      sums.split(separator: " ").last.map { $0.trimmingCharacters(in: .whitespacesAndNewlines) })
    let check = try runTool(["sha256sum", "-c", "SHA256SUMS"], directory: root + "/dist")
    #expect(check.status == 0 && check.stdout == "\(tarball): OK\n", "\(check.all)")
    let commit = try runTool([root + "/scripts/build", "--print-commit"]).stdout.trimmingCharacters(in: .newlines)

    // Unpacked where no checkout is near: nothing of the source tree can be found by walking up.
    let unpacked = CtlTempDir("bundle")
    #expect(!unpacked.path.hasPrefix(root + "/"))
    let untar = try runTool(["tar", "-xzf", root + "/dist/" + tarball, "-C", unpacked.path])
    try #require(untar.status == 0, "\(untar.all)")
    let top = try FileManager.default.contentsOfDirectory(atPath: unpacked.path)
    try #require(top.count == 1 && top[0].hasPrefix("comfy-init-"), "\(top)")
    let version = String(top[0].dropFirst("comfy-init-".count))
    #expect(tarball == "comfy-init-\(version)-linux-x86_64.tar.gz")
    let bundle = unpacked.file(top[0])
    let contents = try FileManager.default.contentsOfDirectory(atPath: bundle).sorted()
    let expected = [
      ".dockerignore", "Dockerfile", "INSTALL.md", "comfy-gateway", "comfy-init", "comfyctl", "compose", "docs",
      "manifests",
    ]
    #expect(contents.filter { $0 != "kubernetes" } == expected, "\(contents)")

    let env = ["PATH": BundleTests.systemPath, "HOME": unpacked.path]
    let noSwift = try runTool(["/bin/sh", "-c", "command -v swift swiftc"], environment: env)
    #expect(noSwift.status != 0 && noSwift.stdout.isEmpty, "swift is on the test's PATH: \(noSwift.stdout)")
    let run = { (args: [String], timeout: TimeInterval) throws -> RunResult in
      let result = try runTool(args, directory: bundle, environment: env, timeout: timeout)
      print("bundle: \(args.joined(separator: " ")) -> \(result.status) in \(String(format: "%.1f s", result.seconds))")
      return result
    }

    // comfyctl and the gate need glibc and a few system libraries, none of Swift's.
    for binary in ["./comfyctl", "./comfy-gateway"] {
      let ldd = try run(["ldd", binary], 30)
      #expect(ldd.status == 0, "\(ldd.all)")
      // glibc alone: no Swift runtime, and no OpenSSL 3, zlib or libstdc++ that an older distribution lacks.
      let needed = ldd.stdout.split(separator: "\n").compactMap { line -> String? in
        let path = line.trimmingCharacters(in: .whitespaces).split(separator: " ").first ?? ""
        let name = String(path.split(separator: "/").last ?? "")
        return name.hasPrefix("linux-vdso") ? nil : name
      }
      #expect(Set(needed).isSubset(of: ["libc.so.6", "libm.so.6", "ld-linux-x86-64.so.2"]), "\(binary): \(ldd.stdout)")
    }
    let ctlVersion = try run(["./comfyctl", "--version"], 30)
    #expect(
      ctlVersion.status == 0 && ctlVersion.stdout == "comfyctl \(version) (commit \(commit))\n", "\(ctlVersion.all)")
    let initVersion = try run(["./comfy-init", "version"], 30)
    let identity = try #require(InitBinary.parse(initVersion.stdout), "\(initVersion.all)")
    #expect(identity == InitBinary(version: version, commit: commit))

    // A deployment of its own: unique names and a free port; the stand-in sources from outside.
    let names = (
      project: "comfyctl-bundle-\(getpid())", image: "comfyctl-bundle:\(getpid())", port: freePort()
    )
    _ = FileManager.default.createFile(
      atPath: bundle + "/.env",
      contents: Data(
        """
        COMFYUI_PROJECT_NAME='\(names.project)'
        COMFYUI_IMAGE='\(names.image)'
        COMFYUI_HOST_PORT='\(names.port)'
        COMFYUI_FLUX_PORT='\(freePort())'

        """.utf8))
    let mismatched = names.image + "-other"
    defer {
      _ = try? run(["./comfyctl", "down", "--deep", "--models", "--yes"], 120)
      _ = try? runTool(["/usr/bin/env", "docker", "image", "rm", "-f", names.image, mismatched])
    }
    let sources = CtlTempDir("bundle-sources")
    let made = try runTool([
      "/bin/bash", root + "/Tests/Fixtures/make-standin-repos.sh", root + "/Tests/Fixtures", sources.file("repos"),
    ])
    try #require(made.status == 0, "\(made.all)")
    let up = try run(
      [
        "./comfyctl", "up", "--cpu", "--base-image", EndToEndDockerTests.baseImage, "--comfyui-repo",
        sources.file("repos/comfyui.git-src"), "--comfyui-ref", "v0.8.0-standin", "--login-repo",
        sources.file("repos/login-src"), "--login-ref", "v1.0-standin", "--wheels", root + "/.cache/wheels",
        "--wait-timeout", "180",
      ], 600)
    try #require(up.status == 0, "up failed: \(up.all.suffix(4000))")
    #expect(up.stdout.contains("healthy"), "\(up.stdout)")
    let validate = try run(["./comfyctl", "validate"], 120)
    #expect(validate.status == 0, "\(validate.all)")

    // The labels say what comfy-init is in the image, and status shows it beside comfyctl's own.
    let labels = try runTool([
      "/usr/bin/env", "docker", "image", "inspect", "--format", "{{json .Config.Labels}}", names.image,
    ])
    let parsed = try JSONSerialization.jsonObject(with: Data(labels.stdout.utf8)) as? [String: String] ?? [:]
    #expect(parsed["org.opencontainers.image.version"] == version, "\(parsed)")
    #expect(parsed["org.opencontainers.image.revision"] == commit, "\(parsed)")
    #expect(parsed["org.opencontainers.image.title"] == "comfy-init ComfyUI", "\(parsed)")
    #expect(parsed["org.opencontainers.image.source"] != nil, "\(parsed)")
    let status = try run(["./comfyctl", "status"], 60)
    #expect(status.status == 0, "\(status.all)")
    #expect(status.stdout.contains("comfyctl \(version) (commit \(commit))\n"), "\(status.stdout)")
    #expect(
      status.stdout.contains("image \(names.image): comfy-init \(version) (commit \(commit))\n"), "\(status.stdout)")
    #expect(!status.stdout.contains("warning:"), "\(status.stdout)")
    // An image from another commit is a warning line (a relabelled copy: no second bootstrap).
    let context = CtlTempDir("bundle-relabel")
    context.write("Dockerfile", "FROM \(names.image)\nLABEL org.opencontainers.image.revision=0000000\n")
    let relabel = try runTool(["/usr/bin/env", "docker", "build", "-q", "-t", mismatched, context.path], timeout: 120)
    try #require(relabel.status == 0, "\(relabel.all)")
    let status2 = try runTool(
      [bundle + "/comfyctl", "status"], directory: bundle,
      environment: env.merging(["COMFYUI_IMAGE": mismatched]) { $1 })
    #expect(
      status2.stdout.contains(
        "warning: the image's comfy-init \(version) (commit 0000000) is not this comfyctl's \(version) (commit \(commit))"
      ),
      "\(status2.all)")

    let down = try run(["./comfyctl", "down", "--deep", "--models", "--yes"], 120)
    #expect(down.status == 0, "\(down.all)")
    let volumes = try runTool([
      "/usr/bin/env", "docker", "volume", "ls", "--quiet", "--filter",
      "label=com.docker.compose.project=\(names.project)",
    ])
    #expect(volumes.status == 0 && volumes.stdout.isEmpty, "volumes left: \(volumes.stdout)")
  }
}
