#!/usr/bin/env bash
# Times `mixdown analyze` against ffmpeg's ebur128 filter (with true peak) on the
# same 3-minute 44.1 kHz stereo 16-bit FLAC, both pinned to one CPU core, and
# prints the ratio.  Goal: `analyze` at least 300x realtime on one core,
# decoding included.
#
# Usage: scripts/bench-analyze.sh
#
# Environment:
#   MIXDOWN_CORPUS     corpus folder (default: <repo>/../shared/corpus)
#   MIXDOWN_BENCH_DIR  where the test song is cached (default: <repo>/target/bench)
#   BENCH_RUNS         timed runs per command; the median is reported (default: 5)
#   BENCH_CPU          the core to pin to (default: the first core this shell may use)
#   MIXDOWN_GOAL_X     realtime factor to meet (default: 300)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
corpus="${MIXDOWN_CORPUS:-$repo_root/../shared/corpus}"
bench_dir="${MIXDOWN_BENCH_DIR:-$repo_root/target/bench}"
runs="${BENCH_RUNS:-5}"
goal_x="${MIXDOWN_GOAL_X:-300}"
song="$bench_dir/song-3min.flac"
mixdown="$repo_root/target/release/mixdown"

if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
    echo "bench-analyze: BENCH_RUNS must be a positive integer, got '$runs'" >&2
    exit 1
fi

# --- tools -------------------------------------------------------------------

apt_install() {
    local sudo=""
    if [[ "$(id -u)" -ne 0 ]]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo="sudo"
        else
            echo "bench-analyze: need root (or sudo) to install: $*" >&2
            exit 1
        fi
    fi
    echo "installing: $*" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

missing=()
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
command -v ffprobe >/dev/null 2>&1 || missing+=(ffmpeg)
command -v taskset >/dev/null 2>&1 || missing+=(util-linux)
[[ -x /usr/bin/time ]] || missing+=(time)
if [[ ${#missing[@]} -gt 0 ]]; then
    # shellcheck disable=SC2207
    apt_install $(printf '%s\n' "${missing[@]}" | sort -u)
fi

# The first core this shell may run on (usually 0).
default_cpu() {
    local list
    list="$(taskset -cp $$ 2>/dev/null | sed 's/.*: *//')"
    list="${list%%,*}"
    echo "${list%%-*}"
}
cpu="${BENCH_CPU:-$(default_cpu)}"
cpu="${cpu:-0}"

# --- inputs ------------------------------------------------------------------

MIXDOWN_CORPUS="$corpus" "$repo_root/scripts/make-bench-song.sh" "$song" >/dev/null
duration="$(ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 "$song")"

echo "building mixdown (release)..." >&2
(cd "$repo_root" && cargo build --release --quiet -p mixdown-cli)

# --- timing ------------------------------------------------------------------

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# time_runs NAME CMD... : one untimed warm-up run, then $runs timed runs.
# Writes the wall seconds of each run to $work/NAME.wall and the peak RSS (KiB)
# to $work/NAME.rss; the command's stdout and stderr go to $work/NAME.{out,err}.
time_runs() {
    local name="$1"
    shift
    : >"$work/$name.wall"
    : >"$work/$name.rss"
    local i start end
    for ((i = 0; i <= runs; i++)); do
        start="$(date +%s.%N)"
        if ! /usr/bin/time -f '%M' -o "$work/$name.time" "$@" >"$work/$name.out" 2>"$work/$name.err"; then
            echo "bench-analyze: '$*' failed:" >&2
            cat "$work/$name.err" >&2
            exit 1
        fi
        end="$(date +%s.%N)"
        if [[ $i -gt 0 ]]; then
            awk -v s="$start" -v e="$end" 'BEGIN { printf "%.6f\n", e - s }' >>"$work/$name.wall"
            tail -n 1 "$work/$name.time" >>"$work/$name.rss"
        fi
    done
}

median() {
    sort -g "$1" | awk '{ v[NR] = $1 } END {
        if (NR % 2) printf "%.6f", v[(NR + 1) / 2];
        else printf "%.6f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

maximum() {
    sort -g "$1" | tail -n 1
}

echo "timing $runs runs each (plus one warm-up) on $(basename "$song")..." >&2
time_runs mixdown_pinned taskset -c "$cpu" "$mixdown" analyze --json "$song"
time_runs mixdown_free "$mixdown" analyze --json "$song"
time_runs ffmpeg_pinned taskset -c "$cpu" ffmpeg -nostdin -nostats -hide_banner \
    -i "$song" -filter_complex ebur128=peak=true -f null -

# --- report ------------------------------------------------------------------

t_mix="$(median "$work/mixdown_pinned.wall")"
t_free="$(median "$work/mixdown_free.wall")"
t_ff="$(median "$work/ffmpeg_pinned.wall")"

# Both tools must have measured the same thing: compare integrated loudness and true peak.
mix_i="$(sed -n 's/.*"integrated_lufs":\([-0-9.]*\).*/\1/p' "$work/mixdown_pinned.out")"
mix_tp="$(sed -n 's/.*"true_peak_dbtp":\([-0-9.]*\).*/\1/p' "$work/mixdown_pinned.out")"
ff_i="$(sed -n 's/^ *I: *\([-0-9.]*\) LUFS.*/\1/p' "$work/ffmpeg_pinned.err" | tail -n 1)"
ff_tp="$(sed -n 's/^ *Peak: *\([-0-9.]*\) dBFS.*/\1/p' "$work/ffmpeg_pinned.err" | tail -n 1)"

mixdown_version="$("$mixdown" --version 2>/dev/null || echo mixdown)"
ffmpeg_version="$(ffmpeg -hide_banner -version | head -n 1 | awk '{ print $3 }')"
commit="$(git -C "$repo_root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
dirty=""
if ! git -C "$repo_root" diff --quiet HEAD -- crates Cargo.toml Cargo.lock 2>/dev/null; then dirty="+changes"; fi

echo
echo "file:     $song"
echo "audio:    $(ffprobe -v error -select_streams a:0 -show_entries stream=sample_rate,channels,bits_per_raw_sample \
    -of default=nw=1:nk=1 "$song" | paste -sd' ' | awk '{ printf "%s Hz, %s ch, %s-bit FLAC", $1, $2, $3 }'), $(awk -v d="$duration" 'BEGIN { printf "%.1f", d }') s"
echo "versions: $mixdown_version (commit $commit$dirty), ffmpeg $ffmpeg_version"
echo "machine:  $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores; pinned runs on core $cpu"
echo "runs:     $runs timed (+1 warm-up) per command, median wall time"
echo
printf '%-42s %12s %12s %14s\n' "command" "median s" "x realtime" "peak RSS MiB"
row() {
    local label="$1" t="$2" name="$3"
    printf '%-42s %12.3f %12.0f %14.1f\n' "$label" "$t" \
        "$(awk -v d="$duration" -v t="$t" 'BEGIN { print d / t }')" \
        "$(awk -v k="$(maximum "$work/$name.rss")" 'BEGIN { print k / 1024 }')"
}
row "mixdown analyze (1 core)" "$t_mix" mixdown_pinned
row "ffmpeg ebur128=peak=true (1 core)" "$t_ff" ffmpeg_pinned
row "mixdown analyze (unpinned, $(nproc) cores)" "$t_free" mixdown_free
echo
echo "loudness check: mixdown ${mix_i:-?} LUFS / ${mix_tp:-?} dBTP; ffmpeg ${ff_i:-?} LUFS / ${ff_tp:-?} dBTP"
awk -v f="$t_ff" -v m="$t_mix" 'BEGIN {
    r = f / m
    if (r >= 1) printf "ratio ffmpeg/mixdown (1 core): %.2f -> mixdown is %.1fx faster\n", r, r
    else printf "ratio ffmpeg/mixdown (1 core): %.2f -> mixdown is %.1fx slower\n", r, 1 / r
}'
awk -v d="$duration" -v m="$t_mix" -v g="$goal_x" 'BEGIN {
    x = d / m
    if (x >= g) printf "goal (>= %dx realtime on one core, decoding included): MET (%.0fx)\n", g, x
    else printf "goal (>= %dx realtime on one core, decoding included): NOT MET (%.0fx)\n", g, x
}'
