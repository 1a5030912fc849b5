// Runs external programs (docker) with an argv array, never through a shell, and never with a secret
// in the arguments: argv is visible to every user of the machine.
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

public struct ProcessOutput: Sendable {
  public var status: Int32
  public var stdout: String
  public var stderr: String
  public var succeeded: Bool { status == 0 }
  /// The last non-empty line of stderr (or stdout): what a one-line error quotes.
  public var lastLine: String {
    let lines = (stderr + "\n" + stdout).split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
    return lines.last { !$0.isEmpty } ?? "no output"
  }
}

public enum ProcessRunner {
  /// Full path of `program` on PATH, or nil.
  public static func which(_ program: String) -> String? {
    if program.contains("/") { return FileManager.default.isExecutableFile(atPath: program) ? program : nil }
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    for dir in path.split(separator: ":") {
      let candidate = "\(dir)/\(program)"
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
  }

  static func makeProcess(_ args: [String], environment: [String: String], directory: String?) throws(CtlError)
    -> Process
  {
    guard let executable = which(args[0]) else {
      throw CtlError(.dockerUnavailable, "\(args[0]) is not on PATH; install it (for Docker: scripts/docker-engine)")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = Array(args.dropFirst())
    var env = ProcessInfo.processInfo.environment
    for (key, value) in environment { env[key] = value }
    process.environment = env
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    return process
  }

  /// Runs to completion, collecting both outputs.
  public static func capture(
    _ args: [String], environment: [String: String] = [:], directory: String? = nil, input: String? = nil
  ) throws(CtlError) -> ProcessOutput {
    let process = try makeProcess(args, environment: environment, directory: directory)
    let out = Pipe()
    let err = Pipe()
    let inPipe = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input == nil ? FileHandle.nullDevice : inPipe
    do { try process.run() } catch {
      throw CtlError(.dockerUnavailable, "cannot run \(args[0]): \(FileOps.describe(error))")
    }
    if let input {
      inPipe.fileHandleForWriting.write(Data(input.utf8))
      try? inPipe.fileHandleForWriting.close()
    }
    // Both pipes are drained concurrently so a chatty child never blocks on a full pipe.
    let collector = OutputCollector()
    let group = DispatchGroup()
    for (pipe, isErr) in [(out, false), (err, true)] {
      group.enter()
      DispatchQueue.global().async {
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        collector.store(data, isErr: isErr)
        group.leave()
      }
    }
    group.wait()
    process.waitUntilExit()
    return ProcessOutput(status: process.terminationStatus, stdout: collector.out, stderr: collector.err)
  }

  /// Runs with the terminal's stdout and stderr (build output, `compose up` progress).
  public static func stream(_ args: [String], environment: [String: String] = [:], directory: String? = nil)
    throws(CtlError) -> Int32
  {
    let process = try makeProcess(args, environment: environment, directory: directory)
    process.standardInput = FileHandle.nullDevice
    do { try process.run() } catch {
      throw CtlError(.dockerUnavailable, "cannot run \(args[0]): \(FileOps.describe(error))")
    }
    process.waitUntilExit()
    return process.terminationStatus
  }

  /// Runs with stdout and stderr passed line by line through `filter` to our stdout (log redaction).
  public static func streamFiltered(
    _ args: [String], environment: [String: String] = [:], directory: String? = nil,
    filter: @escaping @Sendable (String) -> String
  ) throws(CtlError) -> Int32 {
    let process = try makeProcess(args, environment: environment, directory: directory)
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    process.standardInput = FileHandle.nullDevice
    do { try process.run() } catch {
      throw CtlError(.dockerUnavailable, "cannot run \(args[0]): \(FileOps.describe(error))")
    }
    var pending = Data()
    let handle = pipe.fileHandleForReading
    while true {
      let chunk = handle.availableData
      if chunk.isEmpty { break }
      pending.append(chunk)
      while let newline = pending.firstIndex(of: 0x0A) {
        let line = String(decoding: pending[pending.startIndex...newline], as: UTF8.self)
        pending.removeSubrange(pending.startIndex...newline)
        FileHandle.standardOutput.write(Data(filter(line).utf8))
      }
    }
    if !pending.isEmpty { FileHandle.standardOutput.write(Data(filter(String(decoding: pending, as: UTF8.self)).utf8)) }
    process.waitUntilExit()
    return process.terminationStatus
  }
}

private final class OutputCollector: @unchecked Sendable {
  private let lock = NSLock()
  private(set) var out = ""
  private(set) var err = ""

  func store(_ data: Data, isErr: Bool) {
    let text = String(decoding: data, as: UTF8.self)
    lock.lock()
    if isErr { err = text } else { out = text }
    lock.unlock()
  }
}
