#!/usr/bin/env bash
# The weir GitHub Action (action.yml at the repository root), as a script that runs the same
# anywhere, so it can be tested locally (tests/suite/output.rs does). It installs weir,
# annotates the pull request (`weir check --format github`), writes a SARIF log for code
# scanning, and exits with weir's exit code: 0 clean, 1 errors (or warnings with
# deny-warnings), 2 usage (a path that does not exist, or no weir).
#
# Environment (action.yml sets it from the action's inputs):
#   WEIR_PATHS          files or directories to check, separated by spaces or newlines ('.')
#   WEIR_VERSION        a git tag of weir to install, e.g. v0.2.0 (empty: the default branch)
#   WEIR_SARIF_FILE     where to write the SARIF log (weir.sarif; empty: do not write one)
#   WEIR_DENY_WARNINGS  'true' to fail on warnings too
#   WEIR_SKIP_INSTALL   '1' to use the weir already on PATH (tests, or a cached install)
#   WEIR_REPOSITORY     the git repository to install from (https://github.com/weir-flow/weir)
set -euo pipefail

paths="${WEIR_PATHS:-.}"
version="${WEIR_VERSION:-}"
sarif_file="${WEIR_SARIF_FILE-weir.sarif}"
deny_warnings="${WEIR_DENY_WARNINGS:-false}"
repository="${WEIR_REPOSITORY:-https://github.com/weir-flow/weir}"

# weir has no release binaries yet: it is built from source with the lock file it was
# tested with. A version is a git tag.
if [ "${WEIR_SKIP_INSTALL:-0}" != "1" ]; then
  if ! command -v cargo >/dev/null 2>&1; then
    echo "::error title=weir::cargo is needed to install weir; add a Rust toolchain step before this one"
    exit 2
  fi
  install=(install --locked --git "$repository")
  if [ -n "$version" ]; then
    install+=(--tag "$version")
  fi
  echo "::group::Install weir ${version:-from the default branch}"
  cargo "${install[@]}" weir
  echo "::endgroup::"
fi
if ! command -v weir >/dev/null 2>&1; then
  echo "::error title=weir::weir is not on PATH"
  exit 2
fi

# Split the paths on whitespace, without glob expansion.
read -r -d '' -a path_list <<<"$paths" || true
if [ "${#path_list[@]}" -eq 0 ]; then
  path_list=(.)
fi
# (`${flags[@]+…}`: an empty array is "unbound" to `set -u` in the bash 3 of macOS.)
flags=()
case "$deny_warnings" in
  true | True | TRUE | yes | 1) flags+=(--deny warnings) ;;
esac

status=0
weir check --format github ${flags[@]+"${flags[@]}"} -- "${path_list[@]}" || status=$?

if [ -n "$sarif_file" ]; then
  sarif_status=0
  mkdir -p -- "$(dirname -- "$sarif_file")"
  weir check --format sarif ${flags[@]+"${flags[@]}"} -- "${path_list[@]}" >"$sarif_file" || sarif_status=$?
  if [ "$sarif_status" -gt 1 ] || [ ! -s "$sarif_file" ]; then
    echo "::error title=weir::could not write the SARIF log ($sarif_file)"
    status=2
  elif [ -n "${GITHUB_OUTPUT:-}" ]; then
    echo "sarif-file=$sarif_file" >>"$GITHUB_OUTPUT"
  fi
fi

exit "$status"
