// swift-tools-version:6.0
// comfy-init: a static PID-1 entrypoint for ComfyUI containers; comfyctl, its host tool; comfy-gateway,
// the one HTTP server in front of ComfyUI.
//
// Build:  scripts/build   (release, `dist/comfy-init` is fully static)
// Test:   scripts/test    (sets up the machine, then `swift test`)
import PackageDescription

// libcurl is built from Debian's source package by scripts/setup into .deps/curl:
// Debian's own libcurl.a cannot be linked statically (see docs/architecture.md).
let curlPrefix = Context.packageDirectory + "/.deps/curl"

let package = Package(
  name: "comfy-init",
  platforms: [.macOS(.v14)],
  products: [
    .executable(name: "comfy-init", targets: ["comfy-init"]),
    .executable(name: "comfyctl", targets: ["comfyctl"]),
    .executable(name: "comfy-gateway", targets: ["comfy-gateway"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    // The gate's HTTP server, WebSocket and HTTP client: libraries, never hand-written protocol code.
    .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
    .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.0"),
    .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
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
    // The requests the gate must refuse, asked by comfy-init's health and comfyctl's validate.
    .target(name: "AuthContract"),
    // The version number and commit, shared by both programs.
    .target(name: "Version", dependencies: ["CVersion"]),
    .target(
      name: "ComfyInitKit",
      dependencies: ["AuthContract", "CInit", "Spawn", "Bcrypt", "Digest", "HTTPClient", "Version"]),
    .executableTarget(name: "comfy-init", dependencies: ["ComfyInitKit"]),

    // The host tool may use Foundation and swift-argument-parser.
    .target(
      name: "ComfyCtlKit",
      dependencies: [
        "AuthContract", "Bcrypt", "Digest", "HTTPClient", "Spawn", "CZlib", "Version",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),
    .executableTarget(name: "comfyctl", dependencies: ["ComfyCtlKit"]),

    .target(name: "CGateway", path: "Sources/CGateway"),
    // The gate: Hummingbird 2 serves, AsyncHTTPClient and the WebSocket client speak to ComfyUI upstream.
    .target(
      name: "GatewayKit",
      dependencies: [
        "Bcrypt", "CGateway", "Digest", "Version",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
        .product(name: "Hummingbird", package: "hummingbird"),
        .product(name: "HummingbirdTLS", package: "hummingbird"),
        .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
        .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
        .product(name: "AsyncHTTPClient", package: "async-http-client"),
      ]
    ),
    .executableTarget(name: "comfy-gateway", dependencies: ["GatewayKit"]),

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
