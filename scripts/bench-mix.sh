#!/usr/bin/env bash
# Renders a 24-stem session (3 minutes, 48 kHz stereo stems built from the corpus
# multitracks) with mixdown, each track with a high-pass, a 4-band EQ and a
# compressor and two sends (a reverb bus and a delay bus), a limiter on the master;
# then plain-sums the same stems with mixdown (neutral session), `sox -m` and
# ffmpeg's `amix`, all in one run.  Prints wall time, realtime factor and peak
# memory of each, and each plain sum's time relative to mixdown's.
#
# Goal: the full session at least 100x realtime on a 2-core machine, memory bounded
# by blocks (independent of the song's length).
#
# Usage: scripts/bench-mix.sh
#
# Environment:
#   MIXDOWN_CORPUS     corpus folder (default: <repo>/../shared/corpus)
#   MIXDOWN_BENCH_DIR  work folder (default: <repo>/target/bench)
#   BENCH_RUNS         timed runs per tool, the fastest is kept (default 3)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
corpus="${MIXDOWN_CORPUS:-$repo_root/../shared/corpus}"
bench_dir="${MIXDOWN_BENCH_DIR:-$repo_root/target/bench}/mix"
runs="${BENCH_RUNS:-3}"
mixdown="$repo_root/target/release/mixdown"
stem_count=24
seconds=180
log() { echo "bench-mix: $*" >&2; }

if ! command -v ffmpeg >/dev/null 2>&1 || ! command -v sox >/dev/null 2>&1 \
    || [[ ! -x /usr/bin/time ]]; then
    log "installing ffmpeg, sox, time"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ffmpeg sox time >/dev/null
fi

log "building mixdown (release)..."
(cd "$repo_root" && cargo build --release --quiet -p mixdown-cli)

# --- stems: every corpus stem, looped to 3 minutes, 48 kHz stereo 24-bit ----------
mkdir -p "$bench_dir/stems"
mapfile -t sources < <(find "$corpus/multitrack" -name '*.flac' ! -name 'reference-mix.flac' | sort)
if [[ ${#sources[@]} -eq 0 ]]; then
    log "no multitrack stems under $corpus/multitrack"; exit 1
fi
for ((i = 0; i < stem_count; i++)); do
    stem="$bench_dir/stems/$(printf 'stem%02d.wav' "$i")"
    [[ -f "$stem" ]] && continue
    src="${sources[$((i % ${#sources[@]}))]}"
    # Later copies of a source start elsewhere in the loop, so no two stems are equal.
    ffmpeg -nostdin -loglevel error -stream_loop -1 -i "$src" -ss "$((i * 3))" -t "$seconds" \
        -ar 48000 -ac 2 -c:a pcm_s24le -y "$stem"
done

# --- sessions ------------------------------------------------------------------
full="$bench_dir/full.toml"
plain="$bench_dir/plain.toml"
{
    echo 'version = 1'
    echo 'sample_rate = 48000'
    echo '[mix]'
    echo 'tempo_bpm = 120.0'
} > "$full"
printf 'version = 1\nsample_rate = 48000\n[mix]\npan_law_db = 0.0\n' > "$plain"
for ((i = 0; i < stem_count; i++)); do
    name="$(printf 'stem%02d' "$i")"
    pan="$(awk -v i="$i" 'BEGIN { printf "%.2f", ((i % 7) - 3) / 4 }')"
    cat >> "$full" <<TRACK
[[track]]
name = "$name"
file = "stems/$name.wav"
gain_db = -9.0
pan = $pan
chain = [
  { type = "highpass", freq = 40.0, slope_db_per_oct = 12 },
  { type = "eq", bands = [ { kind = "low_shelf", freq = 120.0, gain_db = -1.5, q = 0.7 },
                           { kind = "bell", freq = 400.0, gain_db = -2.0, q = 1.4 },
                           { kind = "bell", freq = 3000.0, gain_db = 1.5, q = 1.0 },
                           { kind = "high_shelf", freq = 9000.0, gain_db = 1.0, q = 0.7 } ] },
  { type = "compressor", threshold_db = -24.0, ratio = 3.0, knee_db = 6.0, attack_ms = 10.0, release_ms = 150.0 },
]
sends = [ { bus = "verb", level_db = -18.0 }, { bus = "echo", level_db = -24.0 } ]
TRACK
    printf '[[track]]\nname = "%s"\nfile = "stems/%s.wav"\n' "$name" "$name" >> "$plain"
done
cat >> "$full" <<'BUSES'
[[bus]]
name = "verb"
chain = [ { type = "reverb", decay_s = 1.8, predelay_ms = 20.0 } ]
[[bus]]
name = "echo"
chain = [ { type = "delay", note = "1/8.", feedback = 0.35, highcut_hz = 5000.0 } ]
[master]
chain = [ { type = "limiter", ceiling_dbtp = -1.0, lookahead_ms = 1.5, release_ms = 80.0 } ]
BUSES

# --- runs ----------------------------------------------------------------------
stems=()
for ((i = 0; i < stem_count; i++)); do stems+=("$bench_dir/stems/$(printf 'stem%02d.wav' "$i")"); done
out="$bench_dir/out"
mkdir -p "$out"

# Prints "wall_s peak_kb" of the fastest of $runs runs of the command.
measure() {
    local best="" line
    for ((r = 0; r < runs; r++)); do
        line="$(/usr/bin/time -f '%e %M' "$@" 2>&1 >/dev/null | tail -1)"
        if [[ -z "$best" ]] || awk -v a="${line%% *}" -v b="${best%% *}" 'BEGIN { exit !(a < b) }'; then
            best="$line"
        fi
    done
    echo "$best"
}

log "timing ($runs runs each, fastest kept)..."
m_full="$(measure "$mixdown" mix "$full" -o "$out/full.wav" --force)"
m_plain="$(measure "$mixdown" mix "$plain" -o "$out/plain.wav" --force)"
m_sox="$(measure sox -m "${stems[@]}" -b 24 "$out/sox.wav")"
amix_inputs=()
for s in "${stems[@]}"; do amix_inputs+=(-i "$s"); done
m_ffmpeg="$(measure ffmpeg -nostdin -loglevel error -y "${amix_inputs[@]}" \
    -filter_complex "amix=inputs=$stem_count:normalize=0" -c:a pcm_s24le "$out/ffmpeg.wav")"

plain_s="${m_plain%% *}"
echo
printf '%-34s %8s %10s %9s %12s\n' "render (24 stems x 3 min, 48 kHz)" "wall s" "x realtime" "peak MB" "vs mixdown"
row() {
    local name="$1" measured="$2" compare="$3"
    local wall="${measured%% *}" kb="${measured##* }"
    awk -v n="$name" -v w="$wall" -v kb="$kb" -v s="$seconds" -v c="$compare" -v p="$plain_s" 'BEGIN {
        rel = (c == "yes") ? sprintf("%.1fx slower", w / p) : "-"
        printf "%-34s %8.2f %10.0f %9.0f %12s\n", n, w, s / w, kb / 1024, rel }'
}
row "mixdown: full session" "$m_full" no
row "mixdown: plain sum" "$m_plain" no
row "sox -m: plain sum" "$m_sox" yes
row "ffmpeg amix: plain sum" "$m_ffmpeg" yes
echo
echo "goal: full session >= 100x realtime"
