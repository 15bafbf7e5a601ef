#!/usr/bin/env bash
# Builds the benchmark song: a 3-minute, 44.1 kHz, stereo, 16-bit FLAC made by
# concatenating six 30-second excerpts of the shared test corpus
# (mixes/*.flac, refs/*.flac and the sectoid-war-of-freedom reference mix).
#
# Usage: scripts/make-bench-song.sh [OUTPUT.flac]
#   OUTPUT defaults to <repo>/target/bench/song-3min.flac.
#   The file is only built if it does not exist yet; its path is printed on stdout.
#
# Environment:
#   MIXDOWN_CORPUS   corpus folder (default: <repo>/../shared/corpus)
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
corpus="${MIXDOWN_CORPUS:-$repo_root/../shared/corpus}"
out="${1:-$repo_root/target/bench/song-3min.flac}"

if [[ -s "$out" ]]; then
    echo "$out"
    exit 0
fi

if ! command -v ffmpeg >/dev/null 2>&1; then
    echo "make-bench-song: ffmpeg is required (apt-get install ffmpeg)" >&2
    exit 1
fi
if [[ ! -d "$corpus" ]]; then
    echo "make-bench-song: corpus not found at $corpus (set MIXDOWN_CORPUS)" >&2
    exit 1
fi

inputs=()
for f in "$corpus"/mixes/*.flac "$corpus"/refs/*.flac \
    "$corpus"/multitrack/sectoid-war-of-freedom/reference-mix.flac; do
    [[ -f "$f" ]] && inputs+=("$f")
done
if [[ ${#inputs[@]} -eq 0 ]]; then
    echo "make-bench-song: no FLAC files found in $corpus" >&2
    exit 1
fi

ffmpeg_args=(-nostdin -hide_banner -loglevel error -y)
filter=""
for i in "${!inputs[@]}"; do
    ffmpeg_args+=(-i "${inputs[$i]}")
    filter+="[$i:a]"
done
filter+="concat=n=${#inputs[@]}:v=0:a=1,aformat=sample_fmts=s16:sample_rates=44100:channel_layouts=stereo[out]"

mkdir -p "$(dirname "$out")"
tmp="$out.partial.flac"
ffmpeg "${ffmpeg_args[@]}" -filter_complex "$filter" -map "[out]" \
    -c:a flac -compression_level 5 "$tmp"
mv -f "$tmp" "$out"
echo "$out"
