#!/usr/bin/env bash
# Builds the git repositories that comfy-init's tests clone instead of the real ComfyUI and ComfyUI-Login:
#   DEST_DIR/comfyui.git-src   non-bare repo of SRC_FIXTURES_DIR/standin-comfyui, one commit, tag v0.8.0-standin
#   DEST_DIR/login-src         non-bare repo of SRC_FIXTURES_DIR/standin-login,   one commit, tag v1.0-standin
# Clone them with file://DEST_DIR/comfyui.git-src etc.
# Idempotent: each run rebuilds both repos, and with a fixed author, committer and date the commits (and so
# the tags) get the same ids every time the fixture files are the same. Needs no git configuration.
# Usage: make-standin-repos.sh SRC_FIXTURES_DIR DEST_DIR
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 SRC_FIXTURES_DIR DEST_DIR" >&2
  exit 2
fi
src=$(cd "$1" && pwd)
mkdir -p "$2"
dest=$(cd "$2" && pwd)

export GIT_AUTHOR_DATE="2026-01-07T12:00:00+00:00" GIT_COMMITTER_DATE="2026-01-07T12:00:00+00:00"
export GIT_CONFIG_NOSYSTEM=1 GIT_CONFIG_GLOBAL=/dev/null
git_() {
  git -c user.email=standin@comfy-init.invalid -c user.name="comfy-init stand-in" \
    -c init.defaultBranch=master -c commit.gpgsign=false -c tag.gpgsign=false -c core.autocrlf=false "$@"
}

# make_repo FIXTURE_NAME REPO_NAME TAG MESSAGE
make_repo() {
  local fixture=$src/$1 repo=$dest/$2 tag=$3 message=$4
  local tmp
  [[ -f $fixture/README.md ]] || { echo "$0: no fixture at $fixture" >&2; exit 1; }
  tmp=$(mktemp -d "$dest/.$2.XXXXXX")
  # copy the fixture without what running it in place may have left behind
  (cd "$fixture" && tar -cf - --exclude=__pycache__ --exclude='*.pyc' --exclude=.secret-key.txt \
    --exclude=./login --exclude=./temp --exclude=./user .) | (cd "$tmp" && tar -xf -)
  if [[ -f $tmp/dot-gitignore ]]; then
    mv "$tmp/dot-gitignore" "$tmp/.gitignore"
  fi
  git_ -C "$tmp" init -q
  # -f: like the real ComfyUI, the repo tracks placeholder files inside folders its .gitignore ignores
  git_ -C "$tmp" add -f -A
  git_ -C "$tmp" commit -q -m "$message"
  git_ -C "$tmp" tag "$tag"
  rm -rf "$repo"
  mv "$tmp" "$repo"
  echo "$repo: $tag $(git_ -C "$repo" rev-parse --short HEAD)"
}

make_repo standin-comfyui comfyui.git-src v0.8.0-standin "ComfyUI stand-in v0.8.0"
make_repo standin-login login-src v1.0-standin "ComfyUI-Login stand-in v1.0"

# v0.9-standin: an older ComfyUI-Login, as a volume from an earlier deployment keeps it. It imports a name the
# current (stand-in) ComfyUI no longer exports, so it fails to import: the server would run without auth.
# It is a child of v1.0-standin only so that the repo stays one small history; what matters is that a checkout
# of it is at another commit than the pinned one.
old_login() {
  local repo=$dest/login-src
  git_ -C "$repo" checkout -q --detach v1.0-standin
  printf '%s\n' '# An older ComfyUI-Login: written for a ComfyUI whose server module exported HTTPFound directly.' \
    'import os' 'import server' \
    'raise ImportError(f"cannot import name '"'HTTPFound'"' from '"'server'"' ({server.__file__})")' >"$repo/__init__.py"
  git_ -C "$repo" commit -q -am "ComfyUI-Login stand-in v0.9 (incompatible with ComfyUI v0.8)"
  git_ -C "$repo" tag v0.9-standin
  git_ -C "$repo" checkout -q master
}
old_login
