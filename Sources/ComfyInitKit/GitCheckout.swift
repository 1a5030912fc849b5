// Git checkouts (ComfyUI and custom nodes) that are never half there: a clone goes into a
// temporary sibling and is renamed into place. A stamp remembers what was checked out, so a
// restart decides "nothing to do" from two small files, without running git.
#if canImport(Glibc)
  import Glibc
#endif

struct CheckoutStamp: Equatable {
  var url: String
  var ref: String
  var commit: String
  /// "pinned": at the wanted ref; "diverged": left alone at another commit or with local changes.
  var state: String

  static func read(_ path: String) -> CheckoutStamp? {
    guard let text = FileSystem.readState(path) else { return nil }
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    guard lines.count >= 4, ["pinned", "diverged"].contains(lines[3]) else { return nil }
    return CheckoutStamp(url: lines[0], ref: lines[1], commit: lines[2], state: lines[3])
  }

  func write(_ path: String) throws(SystemError) {
    try FileSystem.writeAtomically(path, [url, ref, commit, state].joined(separator: "\n") + "\n")
  }
}

struct GitCheckout {
  let runner: ToolRunner
  let layout: HomeLayout
  let offline: Bool
  let update: Bool
  /// The exit code for this checkout's failures (ComfyUI's or a custom node's).
  let failure: ExitCode
  /// COMFYUI_UPDATE=1: a branch or tag may have moved in the repository since the checkout was
  /// made; the stamp cannot tell, so the ref is fetched and the checkout moved to where it points.
  var follow = false

  enum Result: Equatable { case unchanged, cloned, updated, leftAlone }

  /// Makes `dest` a checkout of `url` at `ref` (nil: the default branch), as far as the rules allow.
  /// `stampPath` (from the layout) remembers what was checked out.
  func ensure(url: String, ref: String?, at dest: String, stamp stampPath: String, label: String) throws -> Result {
    let wantedRef = ref ?? "HEAD"
    // A commit id cannot move; offline, only a local repository can be asked.
    let refetch =
      follow && !(ref.map(GitCheckout.looksLikeCommit) ?? false) && !(offline && !GitCheckout.isLocal(url))
    if !refetch, let stamp = CheckoutStamp.read(stampPath), stamp.url == url, stamp.ref == wantedRef,
      let head = GitCheckout.headCommit(of: dest), head == stamp.commit
    {
      if stamp.state == "diverged" && !update {
        Log.warn(
          "\(label) at \(dest) is not at \(wantedRef) or has local changes; left alone (COMFYUI_UPDATE=1 moves it)")
        return .leftAlone
      }
      if stamp.state != "diverged" { return .unchanged }
    }
    if !FileSystem.exists(dest + "/.git") {
      guard !FileSystem.exists(dest) || FileSystem.isDirectory(dest) else {
        throw InitError(failure, "\(dest) is a file, not a checkout of \(label); move it away")
      }
      let commit = try clone(url: url, ref: ref, into: dest, label: label)
      try writeStamp(CheckoutStamp(url: url, ref: wantedRef, commit: commit, state: "pinned"), stampPath)
      return .cloned
    }
    return try reconcile(url: url, ref: ref, at: dest, label: label, stampPath: stampPath, refetch: refetch)
  }

  /// An existing checkout without a matching stamp: find out where it stands, with git.
  private func reconcile(
    url: String, ref: String?, at dest: String, label: String, stampPath: String, refetch: Bool
  ) throws -> Result {
    let wantedRef = ref ?? "HEAD"
    let head = try git(["rev-parse", "HEAD"], in: dest, capture: true, explain: "cannot read the commit of \(dest)")
    let changes = try git(
      ["status", "--porcelain", "--untracked-files=no"], in: dest, capture: true,
      explain: "cannot read the state of \(dest)")
    // The commit the ref names: where the repository has it now when it may have moved, else
    // where the checkout already knows it.
    var wanted: String?
    if refetch {
      try fetch(ref, from: url, into: dest, label: label)
      wanted = try resolveLocally("FETCH_HEAD", in: dest)
    } else {
      wanted = ref.flatMap { try? resolveLocally($0, in: dest) }
    }
    let atWanted = (ref == nil && !refetch) || wanted == head
    if atWanted && changes.isEmpty {
      try writeStamp(CheckoutStamp(url: url, ref: wantedRef, commit: head, state: "pinned"), stampPath)
      return .unchanged
    }
    let why = changes.isEmpty ? "is at \(head.prefix(12)), not \(wantedRef)" : "has local changes"
    guard update else {
      Log.warn("\(label) at \(dest) \(why); left alone (set COMFYUI_UPDATE=1 to move it to \(wantedRef))")
      try writeStamp(CheckoutStamp(url: url, ref: wantedRef, commit: head, state: "diverged"), stampPath)
      return .leftAlone
    }
    Log.warn("\(label) at \(dest) \(why); moving it to \(wantedRef)")
    if !changes.isEmpty {
      // Local edits are kept in the stash, never thrown away.
      try git(
        ["stash", "push", "--quiet", "-m", "comfy-init: local changes before moving to \(wantedRef)"], in: dest,
        explain: "cannot stash the local changes in \(dest)")
      Log.warn("\(label): local changes saved with `git stash` in \(dest) (see `git stash list`)")
    }
    // A pinned commit the checkout already has needs no network; anything else is fetched.
    var target = ref.flatMap { GitCheckout.looksLikeCommit($0) ? wanted : nil }
    if target == nil {
      if !refetch { try fetch(ref, from: url, into: dest, label: label) }
      target = "FETCH_HEAD"
    }
    try git(
      ["checkout", "--quiet", "--detach", target!], in: dest, explain: "cannot check out \(wantedRef) in \(dest)")
    let commit = try git(["rev-parse", "HEAD"], in: dest, capture: true, explain: "cannot read the commit of \(dest)")
    try writeStamp(CheckoutStamp(url: url, ref: wantedRef, commit: commit, state: "pinned"), stampPath)
    Log.info("\(label): moved \(dest) from \(head.prefix(12)) to \(wantedRef) (\(commit.prefix(12)))")
    return .updated
  }

  /// `ref` (nil: the default branch) from `url` into FETCH_HEAD.
  private func fetch(_ ref: String?, from url: String, into dest: String, label: String) throws {
    let wantedRef = ref ?? "HEAD"
    try requireNetwork(url, label: label, dest: dest)
    try git(
      ["fetch", "--quiet", "--", url, wantedRef], in: dest, trusting: GitCheckout.localPath(url),
      explain:
        "cannot fetch \(wantedRef) from \(redactURL(url)) into \(dest); \(label) must be at \(wantedRef) before the server starts: check the network and the URL"
    )
  }

  private func clone(url: String, ref: String?, into dest: String, label: String) throws -> String {
    try requireNetwork(url, label: label, dest: dest)
    let parent = FileSystem.parent(of: dest)
    do { try FileSystem.makeDirectories(parent) } catch {
      throw InitError(.filesystem, "cannot create \(parent): \(error); make the volume writable")
    }
    let temp = layout.partialClone(of: dest)
    let leftover = FileSystem.exists(temp)
    FileSystem.removeTree(temp)
    if leftover { Log.info("\(label): removed \(temp), a clone an earlier start did not finish (crash or stop)") }
    var args = ["clone", "--quiet", "--recurse-submodules", "--shallow-submodules"]
    let isCommit = ref.map(GitCheckout.looksLikeCommit) ?? false
    if let ref, !isCommit { args += ["--depth", "1", "--branch", ref] }
    if isCommit { args.append("--no-checkout") }
    args += ["--", url, temp]
    try git(
      args, in: nil, trusting: GitCheckout.localPath(url),
      explain:
        "cannot clone \(label) from \(redactURL(url)) at \(ref ?? "its default branch"); check the URL, the ref and the network"
    )
    if let ref, isCommit {
      try git(["checkout", "--quiet", "--detach", ref], in: temp, explain: "commit \(ref) is not in \(redactURL(url))")
    }
    let commit = try git(["rev-parse", "HEAD"], in: temp, capture: true, explain: "cannot read the cloned commit")
    do {
      if FileSystem.exists(dest) {
        // Volumes mounted inside the checkout (models/, output/, custom_nodes/) create the folder
        // before the first clone: merge the clone around them instead of refusing.
        try merge(temp, into: dest)
        FileSystem.removeTree(temp)
        Log.info("\(label): cloned into the existing \(dest), keeping what was already there")
      } else {
        try FileSystem.rename(temp, to: dest)
      }
    } catch {
      throw InitError(.filesystem, "cannot move the clone into \(dest): \(error)")
    }
    return commit
  }

  /// Moves every entry of `source` that `dest` lacks into it; folders present on both sides are
  /// merged, a file present on both sides keeps the user's version. `.git` moves last, so a crash
  /// mid-merge leaves a folder that the next start merges again.
  private func merge(_ source: String, into dest: String, top: Bool = true) throws(SystemError) {
    for name in FileSystem.list(source) where !(top && name == ".git") {
      let from = source + "/" + name
      let to = dest + "/" + name
      if !FileSystem.exists(to) {
        try FileSystem.rename(from, to: to)
      } else if FileSystem.isDirectory(from) && FileSystem.isDirectory(to) {
        try merge(from, into: to, top: false)
      } else {
        Log.warn("kept the existing \(to) instead of the repository's version")
      }
    }
    if top { try FileSystem.rename(source + "/.git", to: dest + "/.git") }
  }

  private func requireNetwork(_ url: String, label: String, dest: String) throws(InitError) {
    guard offline, !GitCheckout.isLocal(url) else { return }
    throw InitError(
      .offline,
      "\(label) is needed at \(dest) but COMFYUI_OFFLINE=1 forbids fetching \(redactURL(url)); unset COMFYUI_OFFLINE or provide the checkout"
    )
  }

  private func resolveLocally(_ ref: String, in dir: String) throws -> String? {
    let result = try runner.run(
      ["git"] + GitCheckout.trust([dir]) + ["-C", dir, "rev-parse", "--verify", "--quiet", ref + "^{commit}"],
      capture: true, failure: failure)
    return result.status.isSuccess ? result.output : nil
  }

  @discardableResult
  private func git(
    _ args: [String], in dir: String?, trusting source: String? = nil, capture: Bool = false, explain: String
  ) throws -> String {
    let trusted = GitCheckout.trust([dir, source].compactMap { $0 })
    let full = ["git", "-c", "advice.detachedHead=false"] + trusted + (dir.map { ["-C", $0] } ?? []) + args
    return try runner.check(
      full, extraEnvironment: ["GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "/bin/false"], capture: capture,
      failure: failure, explain: explain)
  }

  private func writeStamp(_ stamp: CheckoutStamp, _ path: String) throws(InitError) {
    do {
      try FileSystem.makeDirectories(FileSystem.parent(of: path))
      try stamp.write(path)
    } catch {
      throw InitError(.filesystem, "cannot record the checkout state in \(path): \(error)")
    }
  }

  static func looksLikeCommit(_ ref: String) -> Bool {
    ref.count >= 7 && ref.count <= 40 && ref.allSatisfy { $0.isHexDigit }
  }

  static func isLocal(_ url: String) -> Bool { url.hasPrefix("/") || url.hasPrefix("file://") }

  /// The folder a local repository URL names; nil for a remote one.
  static func localPath(_ url: String) -> String? {
    url.hasPrefix("file://") ? String(url.dropFirst(7)) : url.hasPrefix("/") ? url : nil
  }

  /// Git refuses a repository another uid owns ("dubious ownership"). An arbitrary uid with gid 0
  /// (`--user 12345:0`, the OpenShift convention) owns none of the image's checkouts and mirrors,
  /// which are still comfy-init's to manage: each one named here (the checkout worked on, a local
  /// source) is trusted, for that command only and only when another uid owns it.
  static func trust(_ paths: [String]) -> [String] {
    paths.flatMap { path -> [String] in
      var st = stat()
      guard stat(path, &st) == 0, st.st_uid != geteuid() else { return [] }
      return ["-c", "safe.directory=\(path)"]
    }
  }

  /// The checked-out commit, read from .git without running git (detached, or a branch ref).
  static func headCommit(of dir: String) -> String? {
    guard var head = FileSystem.readText(dir + "/.git/HEAD")?.trimmingWhitespace() else { return nil }
    guard head.hasPrefix("ref: ") else { return head.count == 40 ? head : nil }
    head = String(head.dropFirst(5))
    if let loose = FileSystem.readText(dir + "/.git/" + head)?.trimmingWhitespace() { return loose }
    guard let packed = FileSystem.readText(dir + "/.git/packed-refs") else { return nil }
    for line in packed.split(separator: "\n") where line.hasSuffix(" " + head) {
      return String(line.prefix(40))
    }
    return nil
  }
}
