#!/usr/bin/env bash
# Builds the release binary every benchmark runs and deploy/Dockerfile ships:
# the Swift runtime and Foundation linked in (--static-swift-stdlib), so RSS and start-up are
# measured on the binary that runs in production. Writes .build/release/callboard.
set -euo pipefail
cd "$(dirname "$0")/.."
exec swift build -c release --product callboard --static-swift-stdlib "$@"
