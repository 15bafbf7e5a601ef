#!/usr/bin/env bash
# Times `mixdown automix` on 16 stereo stems of 3 minutes at 44.1 kHz (built from the
# corpus multitracks, looped), analysis, decisions and render included, and prints
# the wall time, the realtime factor and the peak memory.
#
# Goal: at most 3 s on the 2-core machine.
#
# Usage: scripts/bench-automix.sh
# Environment: MIXDOWN_CORPUS, MIXDOWN_BENCH_DIR (default <repo>/target/bench), BENCH_RUNS (3)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
corpus="${MIXDOWN_CORPUS:-$repo_root/../shared/corpus}"
bench_dir="${MIXDOWN_BENCH_DIR:-$repo_root/target/bench}/automix"
runs="${BENCH_RUNS:-3}"
mixdown="$repo_root/target/release/mixdown"
stem_count=16
seconds=180
log() { echo "bench-automix: $*" >&2; }

if ! command -v ffmpeg >/dev/null 2>&1 || [[ ! -x /usr/bin/time ]]; then
    log "installing ffmpeg, time"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg time >/dev/null
fi
log "building mixdown (release)..."
(cd "$repo_root" && cargo build --release --quiet -p mixdown-cli)

mkdir -p "$bench_dir/stems"
mapfile -t sources < <(find "$corpus/multitrack" -name '*.flac' ! -name 'reference-mix.flac' | sort)
for ((i = 0; i < stem_count; i++)); do
    src="${sources[$((i % ${#sources[@]}))]}"
    # Keep the corpus name (the class comes from it), numbered to stay unique.
    stem="$bench_dir/stems/$(printf '%02d' "$i")-$(basename "$src" .flac).wav"
    [[ -f "$stem" ]] && continue
    ffmpeg -nostdin -loglevel error -stream_loop -1 -i "$src" -ss "$((i * 3))" -t "$seconds" \
        -ar 44100 -ac 2 -c:a pcm_s24le -y "$stem"
done

best=""
for ((r = 0; r < runs; r++)); do
    line="$(/usr/bin/time -f '%e %M' "$mixdown" automix "$bench_dir/stems" \
        -o "$bench_dir/automix.wav" --force 2>&1 >/dev/null | tail -1)"
    if [[ -z "$best" ]] || awk -v a="${line%% *}" -v b="${best%% *}" 'BEGIN { exit !(a < b) }'; then
        best="$line"
    fi
done
awk -v w="${best%% *}" -v kb="${best##* }" -v s="$seconds" -v n="$stem_count" 'BEGIN {
    printf "automix, %d stems x %d s at 44.1 kHz: %.2f s wall (%.0fx realtime), %.0f MB peak\n", n, s, w, s / w, kb / 1024
    print "goal: at most 3 s" }'
