#!/bin/sh
# Usage: check-freestanding.sh LIBRARY.a [PROVIDER.a...]
# Fails if a library meant to be linked into a freestanding image (the wedge core, the Xen
# shadow core) needs any symbol such an image does not provide: only the mem* functions and
# __cxa_pure_virtual are allowed, which every wedge image supplies itself, and what the
# PROVIDER libraries (linked into the same images) define.
set -eu
lib=$1
shift
name=$(basename "$lib" .a)
allowed='^(memcpy|memset|memmove|memcmp|__cxa_pure_virtual)$'
undefined=$(nm -u --format=posix "$lib" | awk '$1 !~ /:$/ {print $1}' | sort -u)
# Symbols defined in one member and used by another are not external.
defined=$(nm --defined-only --format=posix "$lib" "$@" | awk '$1 !~ /:$/ && NF >= 2 {print $1}' | sort -u)
bad=$(printf '%s\n' "$undefined" | grep -v -x -F "$defined" | grep -v -E "$allowed" || true)
if [ -n "$bad" ]; then
    echo "$name needs symbols a freestanding image does not provide:" >&2
    printf '  %s\n' $bad >&2
    exit 1
fi
count=$(printf '%s\n' "$undefined" | grep -c . || true)
echo "$name: $count undefined symbols, all provided within the library or allowed"
