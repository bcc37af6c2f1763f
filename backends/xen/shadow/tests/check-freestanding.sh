#!/bin/sh
# Usage: check-freestanding.sh libxen_shadow.a
# Fails if the library needs any symbol a freestanding wedge does not provide.
set -eu
lib=$1
allowed='^(memcpy|memset|memmove|memcmp|__cxa_pure_virtual)$'
undefined=$(nm -u --format=posix "$lib" | awk '$1 !~ /:$/ {print $1}' | sort -u)
defined=$(nm --defined-only --format=posix "$lib" | awk '$1 !~ /:$/ && NF >= 2 {print $1}' | sort -u)
bad=$(printf '%s\n' "$undefined" | grep -v -x -F "$defined" | grep -v -E "$allowed" || true)
if [ -n "$bad" ]; then
    echo "xen_shadow needs symbols a freestanding wedge does not provide:" >&2
    printf '  %s\n' $bad >&2
    exit 1
fi
count=$(printf '%s\n' "$undefined" | grep -c . || true)
echo "xen_shadow: $count undefined symbols, all provided within the library or allowed"
