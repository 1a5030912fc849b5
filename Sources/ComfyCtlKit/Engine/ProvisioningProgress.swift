// What `comfy-init health --progress` says while the models phase runs, for `up` and `status`: its verdict
// line ("provisioning 12.3/29.4 GB, 210 MB/s, ETA 1m21s"), then machine lines (the contract with comfy-init):
//   total FILES_DONE FILES BYTES_DONE BYTES_TOTAL RATE_BYTES_PER_S
//   file BYTES_DONE BYTES_TOTAL RATE_BYTES_PER_S STATE DEST
// Rendered as bars on a terminal and as one plain line otherwise (CI logs). A line that is neither is
// not a machine line: the verdict is the last of those, so an older comfy-init (no machine lines, or a
// CUDA line before the verdict) still shows its verdict alone. This type is the one reader of that format.
import Foundation

public struct ProvisioningProgress: Equatable, Sendable {
  public struct Total: Equatable, Sendable {
    public var filesDone: Int
    public var files: Int
    public var bytesDone: Int64
    /// 0: unknown.
    public var bytesTotal: Int64
    public var rate: Int64
  }

  public struct File: Equatable, Sendable {
    public var bytesDone: Int64
    /// 0: unknown.
    public var bytesTotal: Int64
    public var rate: Int64
    /// queued, resolving, waiting (another instance holds its lock), downloading, checking, done.
    public var state: String
    public var dest: String
  }

  static let states: Set<String> = ["queued", "resolving", "waiting", "downloading", "checking", "done"]

  /// comfy-init's one-line verdict; nil when it printed nothing else.
  public var verdict: String?
  public var total: Total?
  public var files: [File] = []

  /// Reads the output of `comfy-init health [--progress]`; garbage is never a machine line.
  public static func parse(_ text: String) -> ProvisioningProgress {
    var progress = ProvisioningProgress()
    for raw in text.split(whereSeparator: \.isNewline) {
      let line = raw.trimmingCharacters(in: .whitespaces)
      guard !line.isEmpty else { continue }
      let fields = line.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
      if fields.first == "total", fields.count == 6, let numbers = integers(fields[1...5]),
        numbers.allSatisfy({ $0 >= 0 })
      {
        progress.total = Total(
          filesDone: Int(numbers[0]), files: Int(numbers[1]), bytesDone: numbers[2], bytesTotal: numbers[3],
          rate: numbers[4])
      } else if fields.first == "file", fields.count == 6, let numbers = integers(fields[1...3]),
        numbers.allSatisfy({ $0 >= 0 }), states.contains(fields[4])
      {
        progress.files.append(
          File(bytesDone: numbers[0], bytesTotal: numbers[1], rate: numbers[2], state: fields[4], dest: fields[5]))
      } else {
        progress.verdict = line
      }
    }
    return progress
  }

  private static func integers(_ fields: ArraySlice<String>) -> [Int64]? {
    let numbers = fields.compactMap { Int64($0) }
    return numbers.count == fields.count ? numbers : nil
  }

  /// Whether there is more to show than the verdict.
  public var hasDetail: Bool { total != nil || !files.isEmpty }

  /// The files being worked on now (done and queued ones are counted in the total only).
  public var activeFiles: [File] { files.filter { $0.state != "done" && $0.state != "queued" } }

  /// One plain line: "3/7 files, 12.3/29.4 GB (41%), 210 MB/s, ETA 1m21s; downloading flux1-dev.safetensors
  /// 6.2/11.9 GB". Empty without machine lines (the verdict says it all then).
  public var summary: String {
    var parts: [String] = []
    if let total {
      var text = "\(total.filesDone)/\(total.files) files, " + Self.amount(total.bytesDone, of: total.bytesTotal)
      if let percent = Self.percent(total.bytesDone, of: total.bytesTotal) { text += " (\(percent)%)" }
      text += ", " + Self.rate(total.rate)
      if let eta = Self.eta(done: total.bytesDone, total: total.bytesTotal, rate: total.rate) { text += ", ETA " + eta }
      parts.append(text)
    }
    let active = activeFiles.map {
      "\($0.state) \(Self.fileName($0.dest)) \(Self.amount($0.bytesDone, of: $0.bytesTotal))"
    }
    if !active.isEmpty { parts.append(active.joined(separator: ", ")) }
    return parts.joined(separator: "; ")
  }

  /// A terminal's lines: the total with a bar, then each active file with its own, none wider than
  /// `width` (a wrapped line would break the rewriting of the block).
  public func barLines(label: String, width: Int) -> [String] {
    var lines: [String] = []
    if let total {
      lines.append(
        Self.fit(
          "  \(label) " + Self.bar(total.bytesDone, of: total.bytesTotal) + " \(total.filesDone)/\(total.files) files "
            + Self.amount(total.bytesDone, of: total.bytesTotal) + "  " + Self.rate(total.rate)
            + (Self.eta(done: total.bytesDone, total: total.bytesTotal, rate: total.rate).map { "  ETA " + $0 } ?? ""),
          width))
    }
    for file in activeFiles {
      var text =
        "    " + Self.bar(file.bytesDone, of: file.bytesTotal, cells: 10) + " "
        + Self.amount(file.bytesDone, of: file.bytesTotal)
      if file.state == "downloading" { text += "  " + Self.rate(file.rate) }
      if let eta = Self.eta(done: file.bytesDone, total: file.bytesTotal, rate: file.rate), file.state == "downloading"
      {
        text += "  ETA " + eta
      }
      text += "  \(file.state) \(file.dest)"
      lines.append(Self.fit(text, width))
    }
    return lines
  }

  // MARK: - Units (decimal, as the Hub and comfy-init's verdict give them)

  static func size(_ bytes: Int64) -> String {
    let value = Double(bytes)
    if value >= 1e9 { return String(format: "%.1f GB", value / 1e9) }
    if value >= 1e6 { return String(format: "%.0f MB", value / 1e6) }
    if value >= 1e3 { return String(format: "%.0f kB", value / 1e3) }
    return "\(bytes) B"
  }

  /// "12.3/29.4 GB", or "1.2 GB" when the total is unknown.
  static func amount(_ done: Int64, of total: Int64) -> String {
    guard total > 0 else { return size(done) }
    let whole = size(total)
    let unit = whole.split(separator: " ").last.map(String.init) ?? ""
    let part = size(done)
    // The same unit on both sides reads as one amount: "12.3/29.4 GB".
    if part.hasSuffix(" " + unit), unit == "GB" { return String(part.dropLast(unit.count + 1)) + "/" + whole }
    return part + "/" + whole
  }

  static func rate(_ bytesPerSecond: Int64) -> String { size(bytesPerSecond) + "/s" }

  static func percent(_ done: Int64, of total: Int64) -> Int? {
    guard total > 0 else { return nil }
    return Int(min(100, max(0, done * 100 / total)))
  }

  /// "1m21s", "2h05m", "45s"; nil when the rate or the total is unknown.
  static func eta(done: Int64, total: Int64, rate: Int64) -> String? {
    guard rate > 0, total > 0 else { return nil }
    let seconds = max(0, total - done) / rate
    if seconds >= 3600 { return String(format: "%dh%02dm", seconds / 3600, seconds % 3600 / 60) }
    if seconds >= 60 { return "\(seconds / 60)m\(String(format: "%02d", seconds % 60))s" }
    return "\(seconds)s"
  }

  /// "[########------------] 41%"; an unknown total is an empty bar without a percentage.
  static func bar(_ done: Int64, of total: Int64, cells: Int = 20) -> String {
    guard let percent = percent(done, of: total) else { return "[" + String(repeating: "-", count: cells) + "]  ?%" }
    let filled = percent * cells / 100
    let text = "[" + String(repeating: "#", count: filled) + String(repeating: "-", count: cells - filled) + "]"
    return text + String(repeating: " ", count: 4 - String(percent).count) + "\(percent)%"
  }

  static func fileName(_ dest: String) -> String { String(dest.split(separator: "/").last ?? Substring(dest)) }

  static func fit(_ line: String, _ width: Int) -> String {
    guard width > 1, line.count >= width else { return line }
    return String(line.prefix(width - 2)) + "…"
  }
}
