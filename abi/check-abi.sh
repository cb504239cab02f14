#!/usr/bin/env bash
# ABI check: compares a build of libscorematch with the baseline kept in
# abi/libscorematch.so.<major>.abi (abidw/abidiff from Debian's abigail-tools).
#
#   abi/check-abi.sh                 build a debug library in $ABI_BUILD_DIR
#                                    (default build-abi) and compare it
#   abi/check-abi.sh LIB [BUILDDIR]  compare an existing library; it must have
#                                    debug info (-g: buildtype debug or
#                                    debugoptimized); BUILDDIR holds its
#                                    generated include/scorematch/version.h
#                                    (default: LIB's grandparent directory)
#   abi/check-abi.sh --update        regenerate the baseline from a fresh
#                                    debug build (at release time, or after
#                                    adding functions)
#
# Policy (README "ABI policy"): added functions and enumerators are allowed,
# anything else abidiff reports fails the check (exit 1): a removed function,
# a changed parameter or return type, a renumbered status code. abidiff's exit
# status is a bit set (4 = change, 8 = incompatible change); it runs with
# --no-added-syms, so any non-zero status is a failure. The one exception is
# a library whose SONAME differs from the baseline's: that is an intentional
# break (major version bump), reported, and the baseline must be regenerated
# with --update.
#
# Only the types declared in the public headers (include/ plus the generated
# version.h) are recorded: private structs behind the opaque handles may
# change freely. Without debug info abidiff cannot see types at all and a
# changed parameter type would pass, hence the debug build.
set -euo pipefail
shopt -s inherit_errexit

root=$(cd "$(dirname "$0")/.." && pwd)
# One baseline, named after the SONAME it describes.
baseline=$(ls "$root"/abi/libscorematch.so.*.abi 2>/dev/null | head -n1 || true)
build_dir=${ABI_BUILD_DIR:-build-abi}
case "$build_dir" in /*) ;; *) build_dir="$root/$build_dir" ;; esac

for tool in abidw abidiff readelf; do
    command -v "$tool" >/dev/null || { echo "check-abi: $tool not found (apt-get install abigail-tools binutils)" >&2; exit 2; }
done

# Builds the library alone with debug info; prints its path.
build_library() {
    if [ ! -f "$build_dir/build.ninja" ]; then
        meson setup "$build_dir" "$root" -Dbuildtype=debugoptimized -Dtests=false \
            -Ddocs=disabled -Dexamples=false >/dev/null
    fi
    meson compile -C "$build_dir" scorematch >/dev/null
    echo "$build_dir/lib/libscorematch.so"
}

# abidw with the options that keep the file small and stable: public types
# only, no paths, no line numbers, type ids that do not depend on order.
dump_abi() { # lib builddir out
    abidw --no-corpus-path --no-comp-dir-path --no-show-locs --type-id-style hash \
        --exported-interfaces-only \
        --drop-private-types --headers-dir "$root/include" \
        --header-file "$2/include/scorematch/version.h" \
        --out-file "$3" "$1"
    # Source paths as the compiler saw them depend on where the build
    # directory is: keep them relative to the source root.
    sed -i "s|\(<abi-instr [^>]*path='\)[^']*/lib/|\1lib/|" "$3"
}

soname() {
    readelf -d "$1" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'
}

update=0
lib=""
lib_build=""
case "${1:-}" in
    --update) update=1 ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    "") ;;
    *) lib=$1; lib_build=${2:-$(dirname "$(dirname "$lib")")} ;;
esac
if [ -z "$lib" ]; then
    lib=$(build_library)
    lib_build=$build_dir
fi
[ -f "$lib" ] || { echo "check-abi: no library at $lib" >&2; exit 2; }
[ -f "$lib_build/include/scorematch/version.h" ] ||
    { echo "check-abi: no generated version.h under $lib_build/include" >&2; exit 2; }
# (grep without -q reads all of readelf's output: no SIGPIPE under pipefail)
if ! readelf -S "$lib" | grep '\.debug_info' >/dev/null; then
    echo "check-abi: $lib has no debug info; build with -Dbuildtype=debugoptimized" >&2
    exit 2
fi

if [ "$update" = 1 ]; then
    new="$root/abi/$(soname "$lib").abi"
    dump_abi "$lib" "$lib_build" "$new.tmp"
    mv "$new.tmp" "$new"
    if [ -n "$baseline" ] && [ "$baseline" != "$new" ]; then
        rm -f "$baseline"
    fi
    echo "check-abi: wrote $new"
    exit 0
fi

[ -n "$baseline" ] || { echo "check-abi: no baseline abi/libscorematch.so.N.abi (run $0 --update)" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
dump_abi "$lib" "$lib_build" "$tmp/current.abi"

old_soname=$(sed -n "s/.*<abi-corpus [^>]*soname='\([^']*\)'.*/\1/p" "$baseline" | head -n1)
new_soname=$(soname "$lib")
if [ "$old_soname" != "$new_soname" ]; then
    echo "check-abi: SONAME changed from $old_soname to $new_soname: an intentional ABI break."
    echo "check-abi: regenerate the baseline for the new major: $0 --update"
    abidiff --no-added-syms "$baseline" "$tmp/current.abi" || true
    exit 0
fi

set +e
abidiff --no-added-syms "$baseline" "$tmp/current.abi" >"$tmp/report" 2>&1
rc=$?
set -e
if [ "$rc" -eq 0 ]; then
    echo "check-abi: $new_soname matches the baseline (additions are allowed)"
    exit 0
fi
cat "$tmp/report"
what="error running abidiff"
[ $((rc & 4)) -ne 0 ] && what="ABI change"
[ $((rc & 8)) -ne 0 ] && what="incompatible ABI change"
echo "check-abi: FAILED: $what (abidiff exit status $rc) against $baseline" >&2
echo "check-abi: keep the old interface, or bump the SONAME major (see README \"ABI policy\")" >&2
exit 1
