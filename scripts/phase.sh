#!/usr/bin/env bash
# Runs one phase of `make test` and prints how long it took: phase.sh NAME COMMAND [ARGS...]
set -uo pipefail
name="$1"
shift
start=$SECONDS
printf '\n== phase %s\n' "$name"
"$@"
status=$?
printf '== phase %s: %ss%s\n' "$name" "$((SECONDS - start))" "$([[ $status -eq 0 ]] || echo " (failed, exit $status)")"
exit "$status"
