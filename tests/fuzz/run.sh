#!/bin/sh
# Run every libFuzzer target for $2 seconds from a copy of its seed corpus.
# A crash fails the run and leaves the reproducer in build-fuzz/crashes/.
set -eu
BIN=$1
SECONDS_EACH=${2:-15}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$(cd "$BIN/.." && pwd)/crashes
mkdir -p "$OUT"
for f in "$BIN"/fuzz_*; do
	name=$(basename "$f" | sed 's/^fuzz_//')
	work=$(mktemp -d)
	cp "$HERE/corpus/$name"/* "$work"/ 2>/dev/null || true
	echo "fuzz: $name for ${SECONDS_EACH}s"
	"$f" -max_total_time="$SECONDS_EACH" -max_len=4096 -artifact_prefix="$OUT/$name-" \
		-print_final_stats=1 "$work" 2>"$OUT/$name.log" || {
		tail -40 "$OUT/$name.log"
		echo "fuzz: $name FAILED; reproducer in $OUT"
		rm -rf "$work"
		exit 1
	}
	grep -E 'stat::number_of_executed_units' "$OUT/$name.log" || true
	rm -rf "$work"
done
