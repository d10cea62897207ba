#!/bin/sh
# How many docker CLI processes one `harness run` starts, by subcommand.
#
# A `docker` earlier on PATH logs each call and runs the real one; the harness finds the
# CLI on PATH, so every process it starts is counted (the tests' own setup is not: run
# this against a fixture recipe, with the local Swarm up).
# Usage: [RECIPES=folder] bench/docker_calls.sh [recipe] [harness binary]
#   (default: tests/fixtures/recipes, pass, build/harness)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
RECIPE=${1:-pass}
RECIPES=${RECIPES:-$ROOT/tests/fixtures/recipes}
HARNESS=${2:-$ROOT/build/harness}
REAL=$(command -v docker)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
mkdir "$TMP/bin"
cat > "$TMP/bin/docker" <<SHIM
#!/bin/sh
printf '%s\n' "\$*" >> "$TMP/calls"
exec "$REAL" "\$@"
SHIM
chmod +x "$TMP/bin/docker"
: > "$TMP/calls"
PATH="$TMP/bin:$PATH" "$HARNESS" --state "$TMP/state" --artifacts "$TMP/artifacts" \
  --recipes "$RECIPES" --plain run "$RECIPE" 2>"$TMP/err" || {
  cat "$TMP/err" >&2
  echo "docker_calls: the run failed" >&2
  exit 1
}
echo "docker processes for \`harness run $RECIPE\`: $(wc -l < "$TMP/calls")"
cut -d' ' -f1-2 "$TMP/calls" | sort | uniq -c | sort -rn
