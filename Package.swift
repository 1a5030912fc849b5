// swift-tools-version:6.0
// comfy-init: a static PID-1 entrypoint for ComfyUI containers, and comfyctl, its host tool.
//
// Build:  scripts/build   (release, `dist/comfy-init` is fully static)
// Test:   scripts/test    (sets up the machine, then `swift test`)
import PackageDescription

// libcurl is built from Debian's source package by scripts/setup into .deps/curl:
// Debian's own libcurl.a cannot be linked statically (see docs/architecture.md).
let curlPrefix = Context.packageDirectory + "/.deps/curl"

let package = Package(
  name: "comfy-init",
  platforms: [.macOS(.v13)],
  products: [
    .executable(name: "comfy-init", targets: ["comfy-init"]),
    .executable(name: "comfyctl", targets: ["comfyctl"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
  ],
  targets: [
    // C shims: only what Swift cannot do.
    .target(name: "CInit", path: "Sources/CInit"),
    // The commit id scripts/build injects (a generated header; "unknown" without one).
    .target(name: "CVersion", path: "Sources/CVersion"),
    .target(
      name: "CCurl",
      path: "Sources/CCurl",
      cSettings: [.unsafeFlags(["-I", curlPrefix + "/include"])],
      linkerSettings: [
        .unsafeFlags(["-L", curlPrefix + "/lib"]),
        .linkedLibrary("curl"), .linkedLibrary("ssl"), .linkedLibrary("crypto"),
        .linkedLibrary("pthread"),
      ]
    ),
    .systemLibrary(name: "CCrypt", path: "Sources/CCrypt"),
    .systemLibrary(name: "COpenSSL", path: "Sources/COpenSSL"),
    .systemLibrary(name: "CZlib", path: "Sources/CZlib"),

    // Small Swift modules with one job each; none imports Foundation.
    .target(name: "Digest", dependencies: ["COpenSSL"]),
    .target(name: "Bcrypt", dependencies: ["CCrypt", "Digest"]),
    .target(
      name: "HTTPClient", dependencies: ["CCurl"],
      swiftSettings: [.unsafeFlags(["-Xcc", "-I", "-Xcc", curlPrefix + "/include"])]
    ),
    .target(name: "Spawn", dependencies: ["CInit"]),
    // The version number and commit, shared by both programs.
    .target(name: "Version", dependencies: ["CVersion"]),
    .target(name: "ComfyInitKit", dependencies: ["CInit", "Spawn", "Bcrypt", "Digest", "HTTPClient", "Version"]),
    .executableTarget(name: "comfy-init", dependencies: ["ComfyInitKit"]),

    // The host tool may use Foundation and swift-argument-parser.
    .target(
      name: "ComfyCtlKit",
      dependencies: [
        "Bcrypt", "Digest", "HTTPClient", "Spawn", "CZlib", "Version",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    .executableTarget(name: "comfyctl", dependencies: ["ComfyCtlKit"]),

    // Shared by both test targets: real processes, temporary folders, free ports.
    .target(name: "TestSupport", dependencies: ["Spawn"], path: "Tests/TestSupport"),
    // Counts curl_global_init calls: the test executable is linked with --wrap=curl_global_init.
    .target(name: "CurlProbe", path: "Tests/CurlProbe", cSettings: [.unsafeFlags(["-I", curlPrefix + "/include"])]),
    .testTarget(
      name: "ComfyInitTests",
      dependencies: ["ComfyInitKit", "Bcrypt", "Digest", "HTTPClient", "TestSupport", "CurlProbe", "Version"],
      linkerSettings: [.unsafeFlags(["-Xlinker", "--wrap=curl_global_init"])]
    ),
    .testTarget(name: "ComfyCtlTests", dependencies: ["ComfyCtlKit", "Bcrypt", "TestSupport", "Version"]),
  ]
)
