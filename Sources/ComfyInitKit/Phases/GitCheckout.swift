// Git checkouts (ComfyUI and custom nodes) that are never half there: a clone goes into a
// temporary sibling and is renamed into place. A stamp remembers what was checked out, so a
// restart decides "nothing to do" from two small files, without running git.
import Digest

#if canImport(Glibc)
  import Glibc
#endif

struct CheckoutStamp: Equatable {
  var url: String
  var ref: String
  var commit: String
  /// "pinned": at the wanted ref; "diverged": left alone at another commit or with local changes.
  var state: String
  /// A checkout whose files are checked (a pinned node): what its files looked like once git found
  /// them clean (GitCheckout.filesFingerprint). nil: not recorded.
  var files: String? = nil

  static func read(_ path: String) -> CheckoutStamp? {
    guard let text = FileSystem.readState(path) else { return nil }
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
    guard lines.count >= 4, ["pinned", "diverged"].contains(lines[3]) else { return nil }
    let files = lines.count > 4 && lines[4].hasPrefix("files ") ? String(lines[4].dropFirst(6)) : nil
    return CheckoutStamp(url: lines[0], ref: lines[1], commit: lines[2], state: lines[3], files: files)
  }

  func write(_ path: String) throws(SystemError) {
    let lines = [url, ref, commit, state] + (files.map { ["files " + $0] } ?? [])
    try FileSystem.writeAtomically(path, lines.joined(separator: "\n") + "\n")
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
  /// A pinned node: its files must be the commit's too, not only its HEAD. A file edited in place, or
  /// one git does not track (ignored ones included: ComfyUI-Login's .gitignore hides `*.so`, and Python
  /// imports `password.cpython-*.so` before `password.py`), is stashed like any local change; only the
  /// node's run-time files (HomeLayout.nodeRunTimeFiles, nodeRunTimeFolders) stay.
  var checksFiles = false

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
      // The files as git last found them clean: a stat walk, no git. Anything else asks git below.
      if stamp.state != "diverged" && (!checksFiles || stamp.files == GitCheckout.filesFingerprint(of: dest)) {
        return .unchanged
      }
    }
    if !FileSystem.exists(dest + "/.git") {
      guard !FileSystem.exists(dest) || FileSystem.isDirectory(dest) else {
        throw InitError(failure, "\(dest) is a file, not a checkout of \(label); move it away")
      }
      let commit = try clone(url: url, ref: ref, into: dest, label: label)
      try writeStamp(pinnedStamp(url: url, ref: wantedRef, commit: commit, dest: dest), stampPath)
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
    let changes = try localChanges(in: dest)
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
      try writeStamp(pinnedStamp(url: url, ref: wantedRef, commit: head, dest: dest), stampPath)
      return .unchanged
    }
    let why = changes.isEmpty ? "is at \(head.prefix(12)), not \(wantedRef)" : "has local changes"
    guard update else {
      Log.warn("\(label) at \(dest) \(why); left alone (set COMFYUI_UPDATE=1 to move it to \(wantedRef))")
      try writeStamp(CheckoutStamp(url: url, ref: wantedRef, commit: head, state: "diverged"), stampPath)
      return .leftAlone
    }
    Log.warn("\(label) at \(dest) \(why); \(atWanted ? "putting back the files of" : "moving it to") \(wantedRef)")
    if checksFiles && !changes.isEmpty {
      Log.warn("\(label): files that are not the commit's: \(GitCheckout.describe(changes))")
    }
    if !changes.isEmpty {
      // Local edits are kept in the stash, never thrown away: a checked node's untracked and ignored
      // files too (--all), but for its run-time files.
      let files = checksFiles ? ["--all", "--"] + GitCheckout.runTimeExclusions : []
      try git(
        [
          "-c", "user.name=comfy-init", "-c", "user.email=comfy-init@localhost", "stash", "push", "--quiet", "-m",
          "comfy-init: local changes before moving to \(wantedRef)",
        ] + files, in: dest,
        explain: "cannot stash the local changes in \(dest)")
      Log.warn("\(label): local changes saved with `git stash` in \(dest) (see `git stash list`)")
    }
    if atWanted {
      try writeStamp(pinnedStamp(url: url, ref: wantedRef, commit: head, dest: dest), stampPath)
      Log.info("\(label): \(dest) is at \(wantedRef) (\(head.prefix(12))) with the commit's files again")
      return .updated
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
    try writeStamp(pinnedStamp(url: url, ref: wantedRef, commit: commit, dest: dest), stampPath)
    Log.info("\(label): moved \(dest) from \(head.prefix(12)) to \(wantedRef) (\(commit.prefix(12)))")
    return .updated
  }

  /// The stamp of a checkout git found at the wanted ref and clean; a checked node's also records
  /// its files as they are now.
  private func pinnedStamp(url: String, ref: String, commit: String, dest: String) -> CheckoutStamp {
    CheckoutStamp(
      url: url, ref: ref, commit: commit, state: "pinned",
      files: checksFiles ? GitCheckout.filesFingerprint(of: dest) : nil)
  }

  /// git's list of what differs from HEAD (`git status --porcelain -z` entries). A checked node's
  /// untracked and ignored files count, but for its run-time files.
  private func localChanges(in dest: String) throws -> [String] {
    var args = ["status", "--porcelain", "-z"]
    args += checksFiles ? ["--ignored", "--untracked-files=all"] : ["--untracked-files=no"]
    let output = try git(args, in: dest, capture: true, explain: "cannot read the state of \(dest)")
    var entries: [String] = []
    var renamed = false
    for entry in output.split(separator: "\0") {
      // A rename's entry is followed by its old path, which is not a change of its own.
      if renamed {
        renamed = false
        continue
      }
      let path = String(entry.dropFirst(3))
      renamed = entry.first == "R" || entry.first == "C"
      if !GitCheckout.isRunTimeFile(path) { entries.append(String(entry)) }
    }
    return entries
  }

  /// Up to three of git's entries, for a log line ("?? password/__init__.py, !! password.cpython-311.so").
  static func describe(_ changes: [String]) -> String {
    let shown = changes.prefix(3).joined(separator: ", ")
    return changes.count > 3 ? shown + " and \(changes.count - 3) more" : shown
  }

  /// A path (relative to the checkout) a node writes at run time: under a `__pycache__` folder, or a
  /// known file at its top.
  static func isRunTimeFile(_ path: String) -> Bool {
    let parts = path.split(separator: "/")
    return parts.dropLast().contains { HomeLayout.nodeRunTimeFolders.contains(String($0)) }
      || (parts.count == 1 && HomeLayout.nodeRunTimeFiles.contains(path))
      || (path.hasSuffix("/") && parts.last.map { HomeLayout.nodeRunTimeFolders.contains(String($0)) } == true)
  }

  /// The same files as pathspecs that `git stash push --all` leaves where they are.
  static let runTimeExclusions: [String] =
    HomeLayout.nodeRunTimeFolders.sorted().map { ":(exclude,glob)**/\($0)/**" }
    + HomeLayout.nodeRunTimeFiles.sorted().map { ":(exclude,top)\($0)" }

  /// What a checkout's files look like, without reading them: SHA-256 over every entry but `.git`
  /// and the run-time files, each with its path, type, mode, size, inode and modification and change
  /// times. An edit changes the change time (ctime), which no one but the kernel sets: even a file
  /// written back with its old size and modification time shows. One `fstatat` per entry relative to
  /// its open folder (36 for ComfyUI-Login), instead of a git process. nil when the folder cannot be read.
  static func filesFingerprint(of dir: String) -> String? {
    let fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard fd >= 0 else { return nil }
    let hasher = SHA256()
    hasher.updateField("comfy-init files v1")
    fingerprint(fd, relative: "", into: hasher)
    return hex(hasher.finalize())
  }

  /// Hashes the entries of the open folder `fd` (closed here) and of its subfolders, in name order.
  private static func fingerprint(_ fd: Int32, relative: String, into hasher: SHA256) {
    defer { close(fd) }
    let listing = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC)
    guard listing >= 0 else { return }
    guard let stream = fdopendir(listing) else {
      close(listing)
      return
    }
    for name in FileSystem.names(stream) {
      if relative.isEmpty && (name == ".git" || HomeLayout.nodeRunTimeFiles.contains(name)) { continue }
      var st = stat()
      guard fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 else { continue }
      let isFolder = (st.st_mode & S_IFMT) == S_IFDIR
      if isFolder && HomeLayout.nodeRunTimeFolders.contains(name) { continue }
      hasher.updateField(relative + name)
      // A folder's own times change when Python adds its __pycache__: only its name and mode count.
      let record: [Int64] =
        isFolder
        ? [Int64(st.st_mode)]
        : [
          Int64(st.st_mode), Int64(st.st_size), Int64(bitPattern: UInt64(st.st_ino)), Int64(st.st_mtim.tv_sec),
          Int64(st.st_mtim.tv_nsec), Int64(st.st_ctim.tv_sec), Int64(st.st_ctim.tv_nsec),
        ]
      record.withUnsafeBytes { hasher.update($0) }
      if isFolder {
        let sub = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)
        if sub >= 0 { fingerprint(sub, relative: relative + name + "/", into: hasher) }
      }
    }
  }

  /// `ref` (nil: the default branch) from `url` into FETCH_HEAD.
  private func fetch(_ ref: String?, from url: String, into dest: String, label: String) throws {
    let wantedRef = ref ?? "HEAD"
    try requireNetwork(url, label: label, dest: dest)
    try git(
      ["fetch", "--quiet"] + GitCheckout.uploadPack(for: url) + ["--", url, wantedRef], in: dest,
      trusting: GitCheckout.localPath(url),
      explain:
        "cannot fetch \(wantedRef) from \(redactURL(url)) into \(dest); \(label) must be at \(wantedRef) before the server starts: "
        + (GitCheckout.ownershipProblem(of: url) ?? "check the network and the URL"))
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
    var args = ["clone", "--quiet", "--recurse-submodules", "--shallow-submodules"] + GitCheckout.uploadPack(for: url)
    let isCommit = ref.map(GitCheckout.looksLikeCommit) ?? false
    if let ref, !isCommit { args += ["--depth", "1", "--branch", ref] }
    if isCommit { args.append("--no-checkout") }
    args += ["--", url, temp]
    try git(
      args, in: nil, trusting: GitCheckout.localPath(url),
      explain: "cannot clone \(label) from \(redactURL(url)) at \(ref ?? "its default branch"); "
        + (GitCheckout.ownershipProblem(of: url) ?? "check the URL, the ref and the network"))
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

  /// A local repository that root owns, cloned or fetched by PUID: git refuses it ("dubious
  /// ownership"), and `-c safe.directory` does not reach the `upload-pack` that serves a local
  /// repository (git runs it with a cleaned configuration). Root is the more trusted owner (it
  /// could as well have made the clone itself), so that upload-pack alone, which serves only this
  /// repository, is told to trust it. A repository of any other uid is not trusted: ownershipProblem.
  static func uploadPack(for url: String) -> [String] {
    guard let path = localPath(url), geteuid() != 0 else { return [] }
    var st = stat()
    guard stat(path, &st) == 0, st.st_uid == 0 else { return [] }
    return ["--upload-pack=git -c 'safe.directory=*' upload-pack"]
  }

  /// Why git refused a local repository, when another uid than ours or root's owns it: said after a
  /// failed clone or fetch, instead of blaming the URL, the ref and the network.
  static func ownershipProblem(of url: String) -> String? {
    guard let path = localPath(url) else { return nil }
    var st = stat()
    guard stat(path, &st) == 0, st.st_uid != 0, st.st_uid != geteuid() else { return nil }
    return
      "\(path) belongs to uid \(st.st_uid) and git runs as uid \(geteuid()): git refuses a repository another user owns (dubious ownership) unless safe.directory lists it; chown it to uid \(geteuid()) or root, or list it in safe.directory of a global git config (GIT_CONFIG_GLOBAL); else check the ref"
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
