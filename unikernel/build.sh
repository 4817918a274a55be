#!/bin/sh
# make unikernel: the gateway image, build/unikernel/signpost-gateway.img.
#
#   unikernel/build.sh [OUT_DIR]      (default build/unikernel)
#
# 1. signpost-init (unikernel/init.c: the image's PID 1 around the
#    daemon's run function), statically linked (cmake -DSP_STATIC=ON),
#    stripped.
# 2. The kernel tree from Debian's linux-source-6.1, unpacked once per
#    package version and kept in OUT_DIR/linux, so rebuilds are
#    incremental: a new init relinks the kernel in seconds.
# 3. tinyconfig + unikernel/kernel.config + the initramfs list, which
#    holds one file, /init = signpost-init. Every option of the fragment is
#    checked in the result.
# 4. bzImage, copied to OUT_DIR/signpost-gateway.img.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${1:-$ROOT/build/unikernel}
JOBS=$(nproc)
TARBALL=/usr/src/linux-source-6.1.tar.xz
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
say() { echo "unikernel: $*"; }

[ -f "$TARBALL" ] || { echo "unikernel: $TARBALL is missing (apt-get install linux-source-6.1)" >&2; exit 1; }

say "static signpost-init"
cmake -S "$ROOT" -B "$OUT/signpostd" -DCMAKE_BUILD_TYPE=MinSizeRel -DSP_STATIC=ON >/dev/null
cmake --build "$OUT/signpostd" -j "$JOBS" --target signpost-init >"$OUT/signpostd.log" 2>&1 ||
	{ cat "$OUT/signpostd.log" >&2; exit 1; }
strip -o "$OUT/init.new" "$OUT/signpostd/bin/signpost-init"
# Only a changed binary makes the kernel relink its initramfs.
if cmp -s "$OUT/init.new" "$OUT/init"; then rm "$OUT/init.new"; else mv "$OUT/init.new" "$OUT/init"; fi

VER=$(dpkg-query -W -f '${Version}' linux-source-6.1)
K=$OUT/linux
if [ "$(cat "$K/.signpost-source" 2>/dev/null)" != "$VER" ]; then
	say "unpacking linux-source-6.1 $VER (once)"
	rm -rf "$K"
	mkdir -p "$K"
	tar -xJf "$TARBALL" -C "$K" --strip-components=1
	echo "$VER" >"$K/.signpost-source"
fi

# The initramfs: exactly one file. No /dev, no console node: the init
# mounts devtmpfs itself.
printf 'file /init %s 0755 0 0\n' "$OUT/init" >"$OUT/initramfs.list"
printf 'CONFIG_INITRAMFS_SOURCE="%s"\n' "$OUT/initramfs.list" >"$OUT/initramfs.config"

STAMP=$(cat "$ROOT/unikernel/kernel.config" "$OUT/initramfs.config" | sha256sum | cut -c1-16)
if [ "$(cat "$K/.signpost-config" 2>/dev/null)" != "$STAMP" ]; then
	say "configuring: tinyconfig + unikernel/kernel.config"
	make -C "$K" -s tinyconfig >/dev/null
	(cd "$K" && ./scripts/kconfig/merge_config.sh -m .config \
		"$ROOT/unikernel/kernel.config" "$OUT/initramfs.config" >/dev/null)
	make -C "$K" -s olddefconfig >/dev/null
	# Every line of the fragment must have taken: what it sets is set,
	# what it turns off is not on.
	grep -E '^CONFIG_' "$ROOT/unikernel/kernel.config" | while IFS= read -r line; do
		grep -qxF "$line" "$K/.config" ||
			{ echo "unikernel: kernel.config: '$line' did not take (a missing dependency?)" >&2; exit 1; }
	done
	sed -n 's/^# \(CONFIG_[A-Z0-9_]*\) is not set$/\1/p' "$ROOT/unikernel/kernel.config" |
		while IFS= read -r opt; do
			if grep -q "^$opt=" "$K/.config"; then
				echo "unikernel: kernel.config: $opt is still on" >&2
				exit 1
			fi
		done
	echo "$STAMP" >"$K/.signpost-config"
fi

say "building the kernel ($JOBS jobs; the first time takes a few minutes)"
make -C "$K" -j "$JOBS" bzImage >"$OUT/kernel.log" 2>&1 || { tail -30 "$OUT/kernel.log" >&2; exit 1; }
cp "$K/arch/x86/boot/bzImage" "$OUT/signpost-gateway.img"
say "$OUT/signpost-gateway.img: $(wc -c <"$OUT/signpost-gateway.img") bytes (its init $(wc -c <"$OUT/init") bytes inside)"
