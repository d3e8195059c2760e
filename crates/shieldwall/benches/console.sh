#!/usr/bin/env bash
# The console benchmark (benches/console.rs): builds the store once (1,000,000 objects by
# default, kept in --dir or the PostgreSQL database), then measures every console page.
#   crates/shieldwall/benches/console.sh [--objects N] [--dir DIR] [--requests N] [--pages NAME] [--postgres URL]
set -euo pipefail
cd "$(dirname "$0")/../../.."
exec cargo bench -p shieldwall --bench console -- "$@"
