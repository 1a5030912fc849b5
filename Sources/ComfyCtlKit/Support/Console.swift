// Output for people: plain lines, one rewritten progress line on a terminal (a line per change
// otherwise, so CI logs stay readable), and confirmations.
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

public struct Console: Sendable {
  public var isTerminal: Bool

  public init(isTerminal: Bool = isatty(STDOUT_FILENO) == 1) {
    self.isTerminal = isTerminal
  }

  public func say(_ line: String) {
    FileHandle.standardOutput.write(Data((line + "\n").utf8))
  }

  public func warn(_ line: String) {
    FileHandle.standardError.write(Data(("comfyctl: " + line + "\n").utf8))
  }

  public func progress(_ line: String) {
    if isTerminal {
      FileHandle.standardOutput.write(Data(("\r\u{1B}[K" + line).utf8))
    } else {
      say(line)
    }
  }

  /// Ends a rewritten progress line so the next output starts on its own line.
  public func endProgress() {
    if isTerminal { FileHandle.standardOutput.write(Data("\r\u{1B}[K".utf8)) }
  }

  /// Asks for "yes" on a terminal; without one, the caller must have been given --yes.
  public static func confirm(_ question: String) -> Bool {
    guard isatty(STDIN_FILENO) == 1 else { return false }
    FileHandle.standardOutput.write(Data((question + " Type yes to go on: ").utf8))
    return readLine()?.trimmingCharacters(in: .whitespaces).lowercased() == "yes"
  }

  public static func seconds(_ value: Double) -> String {
    value < 10 ? String(format: "%.1f s", value) : String(format: "%.0f s", value)
  }
}
