import Testing

@testable import ComfyInitKit

@Suite struct ShellWordsTests {
  @Test func splitsLikeAShell() throws {
    #expect(
      try ShellWords.split("--cpu  --output-directory '/a b' \"c\\\"d\" e\\ f") == [
        "--cpu", "--output-directory", "/a b", "c\"d", "e f",
      ])
    #expect(try ShellWords.split("") == [])
    #expect(try ShellWords.split("''") == [""])
    #expect(try ShellWords.split("$(rm -rf /) `x`") == ["$(rm", "-rf", "/)", "`x`"])
  }

  @Test func rejectsUnclosedQuotes() {
    #expect(throws: ShellWords.Unbalanced.self) { try ShellWords.split("--a 'b") }
    #expect(throws: ShellWords.Unbalanced.self) { try ShellWords.split("\"b") }
  }
}
