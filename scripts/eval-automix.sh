#!/usr/bin/env bash
# Automix evaluation over every multitrack of the corpus: gain invariance (seeded
# ±12 dB offsets on the stems), balance error against the reference mix for automix
# and for two baselines (plain sum, equal-loudness sum) on the offset stems, and the
# unmastered automix's true peak.  Prints a Markdown table (see docs/BENCHMARKS.md).
#
# Usage: scripts/eval-automix.sh        (MIXDOWN_CORPUS overrides ../shared/corpus)
set -euo pipefail
repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
corpus="${MIXDOWN_CORPUS:-$repo_root/../shared/corpus}"
cd "$repo_root"
cargo run --release --quiet -p mixdown-engine --example eval_automix -- "$corpus"
