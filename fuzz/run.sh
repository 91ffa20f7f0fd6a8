#!/bin/sh
# Runs one fuzz target for SECONDS (default 630) on stable Rust: one job
# (libFuzzer's default, no -jobs/-workers), at low priority, with a limit
# per input (-timeout: a hang) and on memory (-rss_limit_mb: an OOM). Seeds
# the corpus from profiles/ first if it is missing.
#   fuzz/run.sh TARGET [SECONDS]
# Findings land in fuzz/artifacts/TARGET/, the log in fuzz/logs/TARGET.log.
# NO_BUILD=1 reuses the last build (e.g. while the tree is mid-edit).
set -eu
cd "$(dirname "$0")"
target=$1
seconds=${2:-630}
# libfuzzer-sys needs -Z flags (sanitizer, coverage passes); stable accepts
# them with RUSTC_BOOTSTRAP. -a: debug assertions, so overflows panic.
export RUSTC_BOOTSTRAP=1
triple=$(rustc -vV | sed -n 's/^host: //p')
bin=target/$triple/release/$target
[ "${NO_BUILD:-0}" = 1 ] || nice -n 10 cargo fuzz build -a "$target"
# `cargo fuzz build TARGET` builds only the target, not make_seeds.
[ -d "corpus/$target" ] || cargo run --release --bin make_seeds
mkdir -p "artifacts/$target" logs
max_len=4096
[ "$target" = blob_decode ] && max_len=16384
nice -n 10 "$bin" -artifact_prefix="artifacts/$target/" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
    -max_len="$max_len" -print_final_stats=1 "corpus/$target" \
    2>&1 | tee "logs/$target.log"
