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
