#!/bin/sh
# Refreshes the vendored htmx (src/trialhub/web/static/vendor/htmx) from the npm registry:
# the unmodified release file, its licence, its version and the checksums.
#   scripts/vendor_htmx.sh [VERSION]     (default: the version in VERSION)
# The tarball must match the registry's own sha512 integrity, and, when the version is the
# one recorded, the sha256 in SHA256SUMS too (so a changed release is noticed).
set -eu
dir=src/trialhub/web/static/vendor/htmx
version=${1:-$(cat "$dir/VERSION")}
tarball="htmx.org-$version.tgz"
registry=https://registry.npmjs.org/htmx.org
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

curl -fsSL -o "$tmp/$tarball" "$registry/-/$tarball"
want=$(curl -fsSL "$registry/$version" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["dist"]["integrity"])')
got="sha512-$(openssl dgst -sha512 -binary "$tmp/$tarball" | base64 -w0)"
if [ "$want" != "$got" ]; then
    echo "htmx $version: the tarball does not match the registry's integrity" >&2
    exit 1
fi
if [ "$version" = "$(cat "$dir/VERSION")" ] && grep -q " $tarball\$" "$dir/SHA256SUMS"; then
    (cd "$tmp" && grep " $tarball\$" "$OLDPWD/$dir/SHA256SUMS" | sha256sum -c --quiet -)
fi
tar -xzf "$tmp/$tarball" -C "$tmp" package/dist/htmx.min.js package/LICENSE
cp "$tmp/package/dist/htmx.min.js" "$tmp/package/LICENSE" "$dir/"
echo "$version" > "$dir/VERSION"
(cd "$tmp" && sha256sum "$tarball") > "$dir/SHA256SUMS"
(cd "$dir" && sha256sum htmx.min.js LICENSE) >> "$dir/SHA256SUMS"
echo "htmx $version vendored in $dir"
