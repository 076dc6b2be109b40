#!/usr/bin/env bash
# Benchmark of the VM targets (issue 4), each as a ratio or difference against a baseline
# measured in the same run: start overhead vs bare QEMU, status/current of 100 running VMs
# vs GET /version, daemon RSS with 100 VMs defined and 10 running. Needs QEMU.
# Usage: bench/vm.sh
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release -q --bin oxve --bin oxve-bench-vm
target/release/oxve-bench-vm target/release/oxve
