#!/usr/bin/env bash
# make lint-shell: shellcheck over every shell script git tracks, the *.sh files and any other file
# whose first line is a sh, bash, dash or ksh shebang, following the files they source.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if ! command -v shellcheck >/dev/null; then
  echo "lint-shell: shellcheck is missing (make system-deps, or apt-get install -y shellcheck)" >&2
  exit 1
fi

scripts=()
while IFS= read -r -d '' file; do
  [[ -f "$file" ]] || continue
  if [[ "$file" == *.sh ]] || head -n1 "$file" | grep -qE '^#!.*[/ ](ba|da|k)?sh([[:space:]]|$)'; then
    scripts+=("$file")
  fi
done < <(git ls-files -z)
[[ ${#scripts[@]} -gt 0 ]] || {
  echo "lint-shell: git lists no shell scripts" >&2
  exit 1
}

# -x follows `source` lines; the `# shellcheck source=` directives name paths from the root.
shellcheck --external-sources "${scripts[@]}"
echo "lint-shell: ${#scripts[@]} scripts pass ($(shellcheck --version | sed -n 's/^version: //p')): ${scripts[*]}"
