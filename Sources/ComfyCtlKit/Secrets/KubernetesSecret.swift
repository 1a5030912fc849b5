// The credential as a Kubernetes Secret manifest (`comfyctl secrets k8s`): the same bytes as the hash
// file compose mounts (DerivedSecrets), never the password. kubernetes/base mounts it as the file
// /run/secrets/comfyui_password_hash; the name and key here are the ones its StatefulSet names.
import Foundation

public enum KubernetesSecret {
  /// The Secret kubernetes/base/statefulset.yaml mounts (`secretName`), and its key (the file's name).
  public static let defaultName = "comfyui-password-hash"
  public static let key = "comfyui_password_hash"
  /// The namespace kubernetes/base/kustomization.yaml puts everything in.
  public static let defaultNamespace = "comfyui"
  /// The username the manifests set (COMFYUI_USERNAME); another one needs a patch of the env.
  public static let manifestUsername = "admin"

  /// The manifest, for `kubectl apply -f -`. Refuses names Kubernetes would refuse, before printing.
  public static func manifest(_ credential: Credential, name: String, namespace: String) throws(CtlError) -> String {
    try checkName(name, what: "--name", maxLength: 253, dots: true)
    try checkName(namespace, what: "--namespace", maxLength: 63, dots: false)
    let data = Data((credential.hash + "\n").utf8).base64EncodedString()
    var lines = [
      "# The ComfyUI credential from comfyctl's secrets store: the bcrypt hash only, never the password.",
      "# Apply: comfyctl secrets k8s | kubectl apply -f -   (again after `comfyctl secrets rotate`, then",
      "# restart the pods: kubectl -n \(namespace) rollout restart statefulset)",
    ]
    if credential.username != manifestUsername {
      lines.append(
        "# The user is '\(credential.username)': set COMFYUI_USERNAME to it in your overlay (the manifests say "
          + "'\(manifestUsername)').")
    }
    lines += [
      "apiVersion: v1",
      "kind: Secret",
      "metadata:",
      "  name: \(name)",
      "  namespace: \(namespace)",
      "  labels:",
      "    app.kubernetes.io/name: comfyui",
      "type: Opaque",
      "data:",
      "  \(key): \(data)",
    ]
    return lines.joined(separator: "\n") + "\n"
  }

  /// The Secret with the model hosts' tokens that kubernetes/ mounts beside the hash (the provisioning
  /// Job and every instance): one key per ModelToken, empty when the user gave none (comfy-init reads an
  /// empty file as "no token"), so the files always exist.
  public static let tokensName = "comfyui-model-tokens"

  public static func tokensManifest(_ values: [ModelToken: String], namespace: String) throws(CtlError) -> String {
    try checkName(namespace, what: "--namespace", maxLength: 63, dots: false)
    var lines = [
      "# The model hosts' tokens from .secrets/ (`comfyctl secrets hf-token`, `civitai-token`); empty: no token.",
      "# Mounted as files under /run/secrets (HF_TOKEN_FILE, CIVITAI_TOKEN_FILE), never as variables.",
      "apiVersion: v1",
      "kind: Secret",
      "metadata:",
      "  name: \(tokensName)",
      "  namespace: \(namespace)",
      "  labels:",
      "    app.kubernetes.io/name: comfyui",
      "type: Opaque",
      "data:",
    ]
    for token in ModelToken.allCases {
      let value = values[token] ?? ""
      lines.append("  \(token.key): \"\(Data((value.isEmpty ? "" : value + "\n").utf8).base64EncodedString())\"")
    }
    return lines.joined(separator: "\n") + "\n"
  }

  /// DNS-1123: lower-case letters, digits and '-' (and '.' in a subdomain), alphanumeric at both ends.
  static func checkName(_ value: String, what: String, maxLength: Int, dots: Bool) throws(CtlError) {
    let allowed = { (c: Character) in
      (c >= "a" && c <= "z") || (c >= "0" && c <= "9") || c == "-" || (dots && c == ".")
    }
    let alphanumeric = { (c: Character) in (c >= "a" && c <= "z") || (c >= "0" && c <= "9") }
    guard !value.isEmpty, value.count <= maxLength, value.allSatisfy(allowed), alphanumeric(value.first!),
      alphanumeric(value.last!)
    else {
      throw CtlError(
        .badInput,
        "\(what) '\(value)' is not a Kubernetes name: at most \(maxLength) lower-case letters, digits and '-'"
          + (dots ? " or '.'" : "") + ", starting and ending with a letter or digit")
    }
  }
}
