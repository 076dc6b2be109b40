#!/usr/bin/env bash
# Network benchmarks (root; network namespaces): throughput through a NAT bridge + port
# forward against plain routing, and the time to apply a firewall change with 1,000 rules
# (worst case: all of them on the guest that changes; against writing the whole table).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --release -p oxve-net --test nat_throughput -- --ignored --nocapture 2>&1 | grep -E "throughput|test result"
cargo test --release -p oxve-net --test firewall_netns -- --nocapture 2>&1 | grep -E "firewall change|test result"
