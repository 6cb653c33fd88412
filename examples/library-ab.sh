#!/usr/bin/env bash
# A/B of two git refs of a Go WebSocket library, on a laptop: the same
# workflow as library-ab.yml.
#
#   examples/library-ab.sh ~/src/websocket main my-branch
#   examples/library-ab.sh ~/src/ws master HEAD github.com/gobwas/ws gobwas --driver gorilla
#
# LIBRARY_DIR is a git checkout of the library; BASE and HEAD are refs in it.
# MODULE and SERVER default to gorilla/websocket and its reference server;
# anything after them goes to `wsbench run` (a --driver other than the
# library under test keeps the load generator the same for both sides).
# Exits as the A/B run does: 0, or 98 when HEAD is significantly slower
# than BASE beyond the allowances.
set -euo pipefail

if [ $# -lt 3 ]; then
  sed -n '2,13p' "$0"; exit 2
fi
lib=$(cd "$1" && pwd); base=$2; head=$3
module=${4:-github.com/gorilla/websocket}; server=${5:-gorilla}
shift $(( $# < 5 ? $# : 5 ))
wsbench=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'git -C "$lib" worktree remove --force "$work/base" >/dev/null 2>&1 || true
      git -C "$lib" worktree remove --force "$work/head" >/dev/null 2>&1 || true
      rm -rf "$work"' EXIT

git -C "$lib" worktree add --detach "$work/base" "$base" >/dev/null
git -C "$lib" worktree add --detach "$work/head" "$head" >/dev/null
# A copy of wsbench (without its history and results), so its own go.mod
# is left as it was.
mkdir "$work/wsbench"
(cd "$wsbench" && tar cf - --exclude=./.git --exclude=./results .) | tar xf - -C "$work/wsbench"
for side in base head; do
  go -C "$work/wsbench" mod edit -replace "$module=$work/$side"
  go -C "$work/wsbench" build -o "$work/wsbench-$side" ./cmd/wsbench
done

"$work/wsbench-head" run --servers "$server" --conns 20 --duration 1s --warmup 200ms --runs 10 --pin \
  --ab "base=$work/wsbench-base,head=$work/wsbench-head" \
  --max-regression p99=10%,server_cpu_per_million=5% \
  --out "ab-$(date +%Y%m%d-%H%M%S).json" "$@"
