#!/usr/bin/env bash
# 0G's official Go storage client (0g-storage-client v1.4.x), unchanged: a Linux x64 build ships
# inside the npm package @0gfoundation/0g-compute-ts-sdk under binary/. Only that tarball is
# fetched (npm pack: no dependencies) and the binary kept in tests/storage-go/bin/.
set -euo pipefail
cd "$(dirname "$0")"
VERSION=0.9.0
if [ -x bin/0g-storage-client ] && [ "$(cat bin/.version 2>/dev/null)" = "$VERSION" ]; then
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@0gfoundation/0g-compute-ts-sdk@$VERSION" >/dev/null)
tar -xzf "$work"/0gfoundation-0g-compute-ts-sdk-"$VERSION".tgz -C "$work" package/binary/0g-storage-client
mkdir -p bin
mv "$work"/package/binary/0g-storage-client bin/0g-storage-client
chmod +x bin/0g-storage-client
echo "$VERSION" > bin/.version
