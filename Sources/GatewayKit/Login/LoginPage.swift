// The gate's login page: ComfyUI-Login's form contract (POST /login with `password`, and `username`
// where the form asks for it; 302 to / or to /login?wrong_password=1), served by the gate itself so a
// browser login works whatever ComfyUI-Login does. One page, its style inline: no asset routes to open.
enum LoginPage {
  static func html(wrongPassword: Bool, guestMode: Bool) -> String {
    let warning = wrongPassword ? #"<p class="wrong">Wrong user name or password.</p>"# : ""
    let guest =
      guestMode
      ? #"<button type="submit" name="guest_mode" value="1" formnovalidate>Continue as guest</button>"# : ""
    return """
      <!DOCTYPE html>
      <html lang="en">
      <head>
      <meta charset="utf-8">
      <meta name="viewport" content="width=device-width, initial-scale=1">
      <title>ComfyUI: log in</title>
      <style>
      body { font-family: system-ui, sans-serif; background: #202020; color: #ddd; display: flex;
             justify-content: center; align-items: center; min-height: 100vh; margin: 0; }
      form { background: #2b2b2b; padding: 2em; border-radius: 8px; display: grid; gap: 0.8em; min-width: 18em; }
      input { padding: 0.5em; border-radius: 4px; border: 1px solid #555; background: #1a1a1a; color: #eee; }
      button { padding: 0.6em; border-radius: 4px; border: 0; background: #3a6ea5; color: white; cursor: pointer; }
      .wrong { color: #f77; margin: 0; }
      </style>
      </head>
      <body>
      <form method="post" action="/login">
      <h1>ComfyUI</h1>
      \(warning)
      <label>User name <input name="username" autocomplete="username"></label>
      <label>Password <input name="password" type="password" autocomplete="current-password" required autofocus></label>
      <button type="submit">Log in</button>
      \(guest)
      </form>
      </body>
      </html>
      """
  }

  /// The fields of an application/x-www-form-urlencoded body.
  static func formFields(_ body: String) -> [String: String] {
    var fields: [String: String] = [:]
    for pair in body.split(separator: "&") {
      let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
      guard let name = RequestTarget.percentDecoded(parts[0], plusIsSpace: true) else { continue }
      let value = parts.count > 1 ? RequestTarget.percentDecoded(parts[1], plusIsSpace: true) : ""
      if let value, fields[name] == nil { fields[name] = value }
    }
    return fields
  }
}
