// Splits COMFYUI_ARGS the way a POSIX shell splits words, without running one: no expansion,
// no globbing, no command substitution, so a value can never execute anything.

public enum ShellWords {
  public struct Unbalanced: Error, CustomStringConvertible {
    public var quote: Character
    public var description: String { "an unclosed \(quote) quote" }
  }

  public static func split(_ text: String) throws(Unbalanced) -> [String] {
    var words = [String]()
    var current = ""
    var inWord = false
    var iterator = Array(text).makeIterator()
    while let c = iterator.next() {
      switch c {
      case " ", "\t", "\n", "\r":
        if inWord { words.append(current) }
        current = ""
        inWord = false
      case "'":
        inWord = true
        var closed = false
        while let q = iterator.next() {
          if q == "'" {
            closed = true
            break
          }
          current.append(q)
        }
        if !closed { throw Unbalanced(quote: "'") }
      case "\"":
        inWord = true
        var closed = false
        while let q = iterator.next() {
          if q == "\"" {
            closed = true
            break
          }
          if q == "\\" {
            // Inside double quotes a backslash only escapes these, as in sh.
            guard let next = iterator.next() else { break }
            if !["\"", "\\", "$", "`", "\n"].contains(next) { current.append("\\") }
            if next != "\n" { current.append(next) }
            continue
          }
          current.append(q)
        }
        if !closed { throw Unbalanced(quote: "\"") }
      case "\\":
        inWord = true
        if let next = iterator.next(), next != "\n" { current.append(next) }
      default:
        inWord = true
        current.append(c)
      }
    }
    if inWord { words.append(current) }
    return words
  }
}
