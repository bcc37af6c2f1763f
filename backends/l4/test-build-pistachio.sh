#!/usr/bin/env bash
# ctest l4.build_pistachio: build-pistachio.sh on the checkout in $AFTERBURN_PISTACHIO_SRC into
# OUT (argument 1), then check-pistachio-boot.sh OUT. The checkout must be left as it was.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=${1:?usage: test-build-pistachio.sh OUT}

if [[ -z ${AFTERBURN_PISTACHIO_SRC:-} ]]; then
    echo "SKIP: AFTERBURN_PISTACHIO_SRC is not set: it must name a checkout of L4Ka::Pistachio" \
         "(git clone https://github.com/l4ka/pistachio), which this repository does not contain" \
         "(docs/l4-backend.md)"
    exit 77
fi
SRC=$AFTERBURN_PISTACHIO_SRC
[[ -d $SRC ]] || { echo "FAIL: AFTERBURN_PISTACHIO_SRC is not a directory: $SRC" >&2; exit 1; }

# A fingerprint of the checkout (every file's path, size, mtime and content hash, .git
# excluded) before and after: the build must not write to it.
fingerprint() {
    (cd "$1" && find . -path ./.git -prune -o -type f -printf '%p %s %T@\n' | LC_ALL=C sort &&
     find . -path ./.git -prune -o -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) | sha256sum
}
before=$(fingerprint "$SRC")

"$HERE/build-pistachio.sh" --jobs 2 "$SRC" "$OUT"

after=$(fingerprint "$SRC")
if [[ $before != "$after" ]]; then
    echo "FAIL: build-pistachio.sh changed the checkout $SRC" >&2
    exit 1
fi
echo "checkout unchanged: $SRC"

# The fixes are applied to the copy only, each of them.
for p in "$HERE"/patches/[0-9][0-9][0-9][0-9]-*.patch; do
    patch -d "$OUT/src" -p1 --dry-run --reverse -s <"$p" >/dev/null ||
        { echo "FAIL: $(basename "$p") is not applied in $OUT/src" >&2; exit 1; }
done
echo "all $(ls "$HERE"/patches/[0-9][0-9][0-9][0-9]-*.patch | wc -l) fixes applied in $OUT/src"

"$HERE/check-pistachio-boot.sh" --timeout 180 "$OUT"
