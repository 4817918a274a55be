#!/bin/sh
# The include rule of docs/ARCHITECTURE.md, checked over every #include "..."
# line of the tree: which folder's headers each folder may include. A header
# is found by its name (the build puts every folder on the include path),
# and every quoted include must be a header of this tree.
#
#   scripts/check-layers.sh [ROOT]     exit 1 and one line per breach
set -eu

ROOT=${1:-$(cd "$(dirname "$0")/.." && pwd)}
cd "$ROOT"

# Where each header lives: "name folder" lines.
HEADERS=$(find common keys resolver tunnels mobile signpostd unikernel -name '*.h' |
	awk -F/ '{ name = $NF; $NF = ""; dir = $0; gsub(/ /, "/", dir); sub(/\/$/, "", dir);
		print name, dir }')

# allowed FOLDER: the folders its files may include from (besides itself).
allowed() {
	case $1 in
	common) echo "" ;;
	keys) echo "common" ;;
	resolver | tunnels) echo "common keys" ;;
	mobile) echo "common keys resolver tunnels" ;;
	# The daemon's own files: everything but the CLI.
	signpostd) echo "common keys resolver tunnels mobile signpostd/gateway signpostd/device signpostd/net" ;;
	# A role: the cores, the daemon, the adapters; not the other role.
	signpostd/gateway) echo "common keys resolver tunnels mobile signpostd signpostd/net" ;;
	signpostd/device) echo "common keys resolver tunnels mobile signpostd signpostd/net" ;;
	# The adapters: the cores and the daemon; no role.
	signpostd/net) echo "common keys resolver tunnels mobile signpostd" ;;
	# The CLI: the cores and, of the daemon, only the control protocol and
	# the state's location (checked by name below).
	signpostd/cli) echo "common keys resolver tunnels mobile signpostd" ;;
	unikernel) echo "common keys resolver tunnels mobile signpostd" ;;
	*) echo "" ;;
	esac
}

# Of signpostd/ itself the CLI may include only these.
CLI_FROM_DAEMON="control.h paths.h"

# One awk pass over every source: the map of headers first, then each
# quoted include checked against its folder's rule.
RULES=$(for d in common keys resolver tunnels mobile signpostd signpostd/gateway \
	signpostd/device signpostd/net signpostd/cli unikernel; do
	echo "$d $(allowed "$d")"
done)
FILES=$(find common keys resolver tunnels mobile signpostd unikernel \( -name '*.c' -o -name '*.h' \) | sort)
# shellcheck disable=SC2086
printf '%s\n' "$HEADERS" | awk -v rules="$RULES" -v cli_ok="$CLI_FROM_DAEMON" '
	BEGIN {
		n = split(rules, lines, "\n")
		for (i = 1; i <= n; i++) {
			m = split(lines[i], word, " ")
			for (k = 2; k <= m; k++)
				ok[word[1] " " word[k]] = 1
		}
		split(cli_ok, c, " ")
		for (k in c)
			cli[c[k]] = 1
	}
	FILENAME == "-" { where[$1] = $2; next }
	/^[ \t]*#[ \t]*include[ \t]*"/ {
		inc = $0
		sub(/^[^"]*"/, "", inc)
		sub(/".*/, "", inc)
		dir = FILENAME
		sub(/\/[^\/]*$/, "", dir)
		if (!(inc in where)) {
			printf "%s: includes \"%s\", which is no header of this tree\n", FILENAME, inc
			bad = 1
			next
		}
		w = where[inc]
		if (w == dir)
			next
		if (!((dir " " w) in ok) || (dir == "signpostd/cli" && w == "signpostd" && !(inc in cli))) {
			printf "%s: includes %s/%s, which %s may not (docs/ARCHITECTURE.md)\n",
			    FILENAME, w, inc, dir
			bad = 1
		}
	}
	END {
		if (!bad)
			print "check-layers: every #include keeps to the layers"
		exit bad
	}' - $FILES
