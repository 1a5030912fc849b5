// Sizes, rates and times for progress lines, in decimal units as disks and model cards state them.

/// "812 B", "4.2 kB", "118.6 MB", "20.41 GB".
func formatBytes(_ bytes: Int64) -> String {
  let value = max(0, bytes)
  if value < 1000 { return "\(value) B" }
  for (unit, scale) in [("kB", Int64(1000)), ("MB", 1_000_000)] where value < scale * 1000 {
    return tenths(value, scale) + " " + unit
  }
  // Two decimals for gigabytes: 20 GB downloads move visibly between two progress lines.
  let hundredths = (value + 5_000_000) / 10_000_000
  let fraction = hundredths % 100
  return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction) GB"
}

private func tenths(_ value: Int64, _ scale: Int64) -> String {
  let t = (value * 10 + scale / 2) / scale
  return "\(t / 10).\(t % 10)"
}

/// "45 s", "3 min 20 s", "1 h 05 min".
func formatETA(_ seconds: Double) -> String {
  let s = Int(max(0, min(seconds, 360_000)).rounded())
  if s < 60 { return "\(s) s" }
  if s < 3600 { return "\(s / 60) min \(s % 60) s" }
  let minutes = (s % 3600) / 60
  return "\(s / 3600) h \(minutes < 10 ? "0" : "")\(minutes) min"
}

/// "112.4 MB/s, ETA 3 min 20 s" (no ETA while the size or the rate is unknown).
func formatRate(_ bytesPerSecond: Double, remaining: Int64?) -> String {
  var text = formatBytes(Int64(bytesPerSecond)) + "/s"
  if let remaining, bytesPerSecond > 0 { text += ", ETA " + formatETA(Double(remaining) / bytesPerSecond) }
  return text
}

/// "12.30/29.40 GB": both in the total's unit, as a progress headline reads.
func formatPair(_ done: Int64, of total: Int64) -> String {
  let whole = formatBytes(total)
  guard let space = whole.lastIndex(of: " ") else { return whole }
  let unit = String(whole[whole.index(after: space)...])
  let scale: Int64 = ["kB": 1000, "MB": 1_000_000, "GB": 1_000_000_000][unit] ?? 1
  let part: String
  if scale == 1 {
    part = "\(max(0, done))"
  } else if unit == "GB" {
    let hundredths = (max(0, done) + scale / 200) / (scale / 100)
    part = "\(hundredths / 100).\(hundredths % 100 < 10 ? "0" : "")\(hundredths % 100)"
  } else {
    part = tenths(max(0, done), scale)
  }
  return part + "/" + whole
}
