// Output for people: plain lines, one rewritten progress line on a terminal (a line per change
// otherwise, so CI logs stay readable), and confirmations.
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

public struct Console: Sendable {
  public var isTerminal: Bool
  /// Where the output goes: stdout, or a test's buffer.
  let write: @Sendable (String) -> Void

  public init(
    isTerminal: Bool = isatty(STDOUT_FILENO) == 1,
    write: @escaping @Sendable (String) -> Void = { FileHandle.standardOutput.write(Data($0.utf8)) }
  ) {
    self.isTerminal = isTerminal
    self.write = write
  }

  public func say(_ line: String) {
    write(line + "\n")
  }

  public func warn(_ line: String) {
    FileHandle.standardError.write(Data(("comfyctl: " + line + "\n").utf8))
  }

  public func progress(_ line: String) {
    if isTerminal {
      write("\r\u{1B}[K" + line)
    } else {
      say(line)
    }
  }

  /// Ends a rewritten progress line so the next output starts on its own line.
  public func endProgress() {
    if isTerminal { write("\r\u{1B}[K") }
  }

  /// A block of progress lines, rewritten in place on a terminal: `shown` is how many the previous call
  /// wrote (0 at first); returns how many this one wrote. Without a terminal, each line once.
  public func progress(_ lines: [String], replacing shown: Int) -> Int {
    guard isTerminal else {
      for line in lines { say(line) }
      return 0
    }
    write(Console.clear(shown) + lines.joined(separator: "\n"))
    return lines.count
  }

  /// Clears a block of `shown` progress lines so the next output starts where it began.
  public func endProgress(replacing shown: Int) {
    if isTerminal && shown > 0 { write(Console.clear(shown)) }
  }

  /// Back to the first of `shown` lines, and everything from there on erased.
  static func clear(_ shown: Int) -> String {
    "\r" + (shown > 1 ? "\u{1B}[\(shown - 1)A" : "") + "\u{1B}[J"
  }

  /// The terminal's columns (80 when it does not say): progress lines stay shorter, since a wrapped
  /// line would break the rewriting of the block.
  public static var columns: Int {
    var size = winsize()
    guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
    return Int(size.ws_col)
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
