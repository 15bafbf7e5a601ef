#!/usr/bin/env bash
# Masters the same 3-minute 44.1 kHz stereo song with mixdown, with matchering 2.x
# and with ffmpeg's two-pass loudnorm, in one run, and prints for each the wall
# time, the peak memory, the output's integrated loudness and true peak (measured
# by mixdown's meter and, independently, by ffmpeg's ebur128 filter), the error
# against -14 LUFS, whether the output has true-peak overs above -1 dBTP, and how
# many times slower than mixdown each tool is.  Then masters a 60-minute file
# (the song looped 20 times) with mixdown and reports its wall time and memory.
#
# Goals: mixdown at least 8x faster than both other tools, under 250 MB peak
# memory, and the only one of the three with zero true-peak overs and +-0.1 LU
# accuracy; the 60-minute file masters without running out of memory.
#
# Usage: scripts/bench-master.sh
#
# Environment:
#   MIXDOWN_CORPUS     corpus folder (default: <repo>/../shared/corpus)
#   MIXDOWN_BENCH_DIR  work folder: test song, virtualenv, outputs (default: <repo>/target/bench)
#   BENCH_REFERENCE    reference track for matchering (default: <corpus>/refs/asc-machine-wars.flac)
#   BENCH_LONG         1 (default) also masters the 60-minute file with mixdown; 0 skips it
#   BENCH_MATCHERING   1 (default) installs and runs matchering; 0 skips it
#   BENCH_MARKDOWN     1 also prints the results as Markdown table rows
#
# Installs what is missing: ffmpeg and GNU time with apt-get, matchering with pip
# into a virtualenv under the work folder (skipped, with a message, if that fails).
set -euo pipefail

repo_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
corpus="${MIXDOWN_CORPUS:-$repo_root/../shared/corpus}"
bench_dir="${MIXDOWN_BENCH_DIR:-$repo_root/target/bench}"
reference="${BENCH_REFERENCE:-$corpus/refs/asc-machine-wars.flac}"
run_long="${BENCH_LONG:-1}"
run_matchering="${BENCH_MATCHERING:-1}"
markdown="${BENCH_MARKDOWN:-0}"
out_dir="$bench_dir/out"
venv="$bench_dir/venv"
song="$bench_dir/song-3min.flac"
long_song="$bench_dir/song-60min.flac"
mixdown="$repo_root/target/release/mixdown"

target_lufs=-14
ceiling_dbtp=-1
loudnorm_lra=11
goal_speed=8
goal_mem_mb=250
goal_lu=0.1

log() { echo "bench-master: $*" >&2; }

# --- tools -------------------------------------------------------------------

apt_install() {
    local sudo=""
    if [[ "$(id -u)" -ne 0 ]]; then
        if command -v sudo >/dev/null 2>&1; then
            sudo="sudo"
        else
            log "need root (or sudo) to install: $*"
            return 1
        fi
    fi
    log "installing: $*"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

if ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1 \
    || [[ ! -x /usr/bin/time ]]; then
    apt_install ffmpeg time
fi

# matchering 2.x in its own virtualenv; any failure only skips matchering.
matchering_ok=0
matchering_version=""
setup_matchering() {
    if [[ -x "$venv/bin/python" ]] && "$venv/bin/python" -c 'import matchering' >/dev/null 2>&1; then
        return 0
    fi
    if ! command -v python3 >/dev/null 2>&1; then
        apt_install python3 python3-venv python3-pip || return 1
    fi
    rm -rf "$venv"
    if ! python3 -m venv "$venv" >/dev/null 2>&1; then
        apt_install python3-venv python3-pip || return 1
        rm -rf "$venv"
        python3 -m venv "$venv" || return 1
    fi
    log "installing matchering into $(basename "$venv") (pip)..."
    "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
    "$venv/bin/python" -m pip install -q 'matchering>=2,<3' || return 1
    "$venv/bin/python" -c 'import matchering' >/dev/null 2>&1
}
if [[ "$run_matchering" == 1 ]]; then
    mkdir -p "$bench_dir"
    if setup_matchering; then
        matchering_ok=1
        matchering_version="$("$venv/bin/python" -c \
            'import importlib.metadata as m; print(m.version("matchering"))' 2>/dev/null || echo 2.x)"
    else
        log "matchering could not be installed: matchering skipped"
    fi
    if [[ "$matchering_ok" == 1 && ! -f "$reference" ]]; then
        log "reference $reference not found (set BENCH_REFERENCE): matchering skipped"
        matchering_ok=0
    fi
else
    log "BENCH_MATCHERING=0: matchering skipped"
fi

# --- inputs ------------------------------------------------------------------

MIXDOWN_CORPUS="$corpus" "$repo_root/scripts/make-bench-song.sh" "$song" >/dev/null
mkdir -p "$out_dir"

log "building mixdown (release)..."
(cd "$repo_root" && cargo build --release --quiet -p mixdown-cli)

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

duration_of() {
    ffprobe -v error -show_entries format=duration -of default=nw=1:nk=1 "$1"
}

# --- timing and metering -----------------------------------------------------

# timed NAME CMD... : runs CMD once under GNU time; appends "wall_s peak_rss_kib"
# to $work/NAME.time (several commands under one NAME add up their times and keep
# the largest RSS).  CMD's stdout and stderr go to $work/NAME.{out,err}.
timed() {
    local name="$1"
    shift
    if ! /usr/bin/time -f '%e %M' -o "$work/$name.t1" "$@" >"$work/$name.out" 2>"$work/$name.err"; then
        log "'$*' failed:"
        tail -n 20 "$work/$name.err" >&2
        return 1
    fi
    tail -n 1 "$work/$name.t1" >>"$work/$name.time"
}
wall_of() { awk '{ s += $1 } END { printf "%.2f", s }' "$work/$1.time"; }
rss_mib_of() { awk '$2 > m { m = $2 } END { printf "%.1f", m / 1024 }' "$work/$1.time"; }

# measure NAME FILE : integrated loudness and true peak of FILE by mixdown's meter
# (mixdown analyze --json) and by ffmpeg's (ebur128=peak=true; the final values of
# its frame metadata, which its summary prints rounded to 0.1).  Writes
# "mx_i mx_tp ff_i ff_tp ff_i_summary ff_tp_summary" to $work/NAME.meter.
measure() {
    local name="$1" file="$2" json mx_i mx_tp ff_i ff_tp ffs_i ffs_tp
    json="$("$mixdown" analyze --json "$file")"
    mx_i="$(sed -n 's/.*"integrated_lufs":\([-0-9.]*\).*/\1/p' <<<"$json")"
    mx_tp="$(sed -n 's/.*"true_peak_dbtp":\([-0-9.]*\).*/\1/p' <<<"$json")"
    ffmpeg -nostdin -hide_banner -nostats -i "$file" \
        -af "ebur128=peak=true:metadata=1,ametadata=mode=print:file=$work/$name.meta" \
        -f null - 2>"$work/$name.ebur128"
    ff_i="$(sed -n 's/^lavfi\.r128\.I=//p' "$work/$name.meta" | tail -n 1)"
    ff_tp="$(sed -n 's/^lavfi\.r128\.true_peak=//p' "$work/$name.meta" | tail -n 1 |
        awk '{ if ($1 > 0) printf "%.2f", 20 * log($1) / log(10); else print "-inf" }')"
    ffs_i="$(sed -n 's/^ *I: *\([-0-9.]*\) LUFS.*/\1/p' "$work/$name.ebur128" | tail -n 1)"
    ffs_tp="$(sed -n 's/^ *Peak: *\([-0-9.inf]*\) dBFS.*/\1/p' "$work/$name.ebur128" | tail -n 1)"
    echo "${mx_i:-nan} ${mx_tp:-nan} ${ff_i:-nan} ${ff_tp:-nan} ${ffs_i:-nan} ${ffs_tp:-nan}" >"$work/$name.meter"
}

song_s="$(duration_of "$song")"
log "song: $(basename "$song"), $(awk -v d="$song_s" 'BEGIN { printf "%.1f", d }') s"

# 1. mixdown
log "mastering with mixdown..."
timed mixdown "$mixdown" master "$song" -o "$out_dir/mixdown.wav" --preset spotify --force
measure mixdown "$out_dir/mixdown.wav"
tools=(mixdown)

# 2. matchering
if [[ "$matchering_ok" == 1 ]]; then
    log "mastering with matchering $matchering_version (reference: $(basename "$reference"))..."
    cat >"$work/run_matchering.py" <<'EOF'
import sys
import matchering as mg

mg.process(target=sys.argv[1], reference=sys.argv[2], results=[mg.pcm24(sys.argv[3])])
EOF
    rm -f "$out_dir/matchering.wav"
    if timed matchering "$venv/bin/python" "$work/run_matchering.py" "$song" "$reference" \
        "$out_dir/matchering.wav"; then
        measure matchering "$out_dir/matchering.wav"
        tools+=(matchering)
    else
        log "matchering failed: skipped"
        matchering_ok=0
    fi
fi

# 3. ffmpeg two-pass loudnorm
log "normalising with ffmpeg loudnorm (two passes)..."
ln_args="I=$target_lufs:TP=$ceiling_dbtp:LRA=$loudnorm_lra"
timed loudnorm_pass1 ffmpeg -nostdin -hide_banner -nostats -i "$song" \
    -af "loudnorm=$ln_args:print_format=json" -f null -
json_field() { sed -n "s/.*\"$1\" *: *\"\\([^\"]*\\)\".*/\\1/p" "$2" | tail -n 1; }
m_i="$(json_field input_i "$work/loudnorm_pass1.err")"
m_tp="$(json_field input_tp "$work/loudnorm_pass1.err")"
m_lra="$(json_field input_lra "$work/loudnorm_pass1.err")"
m_thresh="$(json_field input_thresh "$work/loudnorm_pass1.err")"
m_offset="$(json_field target_offset "$work/loudnorm_pass1.err")"
timed loudnorm_pass2 ffmpeg -nostdin -hide_banner -nostats -y -i "$song" \
    -af "loudnorm=$ln_args:measured_I=$m_i:measured_TP=$m_tp:measured_LRA=$m_lra:measured_thresh=$m_thresh:offset=$m_offset:linear=true:print_format=json" \
    -ar 44100 -c:a pcm_s24le "$out_dir/loudnorm.wav"
loudnorm_mode="$(json_field normalization_type "$work/loudnorm_pass2.err")"
cat "$work/loudnorm_pass1.time" "$work/loudnorm_pass2.time" >"$work/loudnorm.time"
measure loudnorm "$out_dir/loudnorm.wav"
tools+=(loudnorm)

# --- 60-minute file ----------------------------------------------------------

long_done=0
if [[ "$run_long" == 1 ]]; then
    if [[ ! -s "$long_song" ]]; then
        log "building the 60-minute file (the song looped 20 times)..."
        ffmpeg -nostdin -hide_banner -loglevel error -y -stream_loop 19 -i "$song" \
            -c:a flac -compression_level 5 "$long_song.partial.flac"
        mv -f "$long_song.partial.flac" "$long_song"
    fi
    long_s="$(duration_of "$long_song")"
    log "mastering the 60-minute file with mixdown..."
    if timed long "$mixdown" master "$long_song" -o "$out_dir/mixdown-60min.wav" \
        --preset spotify --force; then
        measure long "$out_dir/mixdown-60min.wav"
        long_done=1
    else
        log "mixdown failed on the 60-minute file"
    fi
fi

# --- report ------------------------------------------------------------------

label_of() {
    case "$1" in
        mixdown) echo "mixdown master --preset spotify" ;;
        matchering) echo "matchering $matchering_version" ;;
        loudnorm) echo "ffmpeg loudnorm 2-pass ($loudnorm_mode)" ;;
        long) echo "mixdown master, 60 min" ;;
    esac
}

# Per tool: wall, rss, the meters, errors against the target, overs by each meter.
summary_of() {
    local name="$1"
    read -r mx_i mx_tp ff_i ff_tp ffs_i ffs_tp <"$work/$name.meter"
    awk -v w="$(wall_of "$name")" -v r="$(rss_mib_of "$name")" \
        -v mi="$mx_i" -v mt="$mx_tp" -v fi="$ff_i" -v ft="$ff_tp" \
        -v t="$target_lufs" -v c="$ceiling_dbtp" -v g="$goal_lu" 'BEGIN {
        me = mi - t; fe = fi - t
        mo = (mt > c) ? "yes" : "no"; fo = (ft > c) ? "yes" : "no"
        ok = (me <= g && me >= -g && fe <= g && fe >= -g && mo == "no" && fo == "no") ? 1 : 0
        printf "%s %s %.2f %.2f %.2f %.2f %+.2f %+.2f %s %s %d\n", w, r, mi, fi, mt, ft, me, fe, mo, fo, ok
    }'
}

mixdown_version="$("$mixdown" --version 2>/dev/null || echo mixdown)"
ffmpeg_version="$(ffmpeg -hide_banner -version | head -n 1 | awk '{ print $3 }')"
commit="$(git -C "$repo_root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
dirty=""
if [[ -n "$(git -C "$repo_root" status --porcelain -- crates Cargo.toml Cargo.lock 2>/dev/null)" ]]; then
    dirty=" + uncommitted changes"
fi

echo
echo "song:     $(basename "$song"), $(ffprobe -v error -select_streams a:0 \
    -show_entries stream=sample_rate,channels -of default=nw=1:nk=1 "$song" | paste -sd' ' |
    awk '{ printf "%s Hz, %s ch", $1, $2 }'), $(awk -v d="$song_s" 'BEGIN { printf "%.1f", d }') s"
echo "target:   $target_lufs LUFS integrated, true-peak ceiling $ceiling_dbtp dBTP, 24-bit WAV"
echo "versions: $mixdown_version (commit $commit$dirty), ffmpeg $ffmpeg_version${matchering_version:+, matchering $matchering_version}"
echo "machine:  $(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //'), $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
[[ "$matchering_ok" == 1 ]] && echo "matchering reference: $(basename "$reference")"
echo "meters:   LUFS and dBTP as 'mixdown analyze / ffmpeg ebur128=peak=true'; over = true peak > $ceiling_dbtp dBTP"
echo
printf '%-40s %8s %9s %17s %15s %15s %9s %8s\n' \
    "tool" "wall s" "peak MiB" "LUFS mx/ff" "dBTP mx/ff" "error LU mx/ff" "overs" "x mixdown"
t_mix="$(wall_of mixdown)"
for name in "${tools[@]}"; do
    read -r w r mi f_i mt ft me fe mo fo ok < <(summary_of "$name")
    ratio="$(awk -v a="$w" -v b="$t_mix" 'BEGIN { if (b > 0) printf "%.1f", a / b; else print "-" }')"
    printf '%-40s %8.2f %9.1f %17s %15s %15s %9s %8s\n' "$(label_of "$name")" "$w" "$r" \
        "$mi / $f_i" "$mt / $ft" "$me / $fe" "$mo/$fo" "$ratio"
done
if [[ "$long_done" == 1 ]]; then
    read -r w r mi f_i mt ft me fe mo fo ok < <(summary_of long)
    echo
    echo "60-minute file: $(basename "$long_song"), $(awk -v d="$long_s" 'BEGIN { printf "%.1f", d }') s"
    printf '%-40s %8.2f %9.1f %17s %15s %15s %9s %8s\n' "$(label_of long)" "$w" "$r" \
        "$mi / $f_i" "$mt / $ft" "$me / $fe" "$mo/$fo" \
        "$(awk -v d="$long_s" -v w="$w" 'BEGIN { printf "%.0fx rt", d / w }')"
fi

echo
echo "ffmpeg ebur128 summary (rounded to 0.1), as a cross-check of the ffmpeg column:"
for name in "${tools[@]}" $([[ "$long_done" == 1 ]] && echo long); do
    read -r _ _ _ _ ffs_i ffs_tp <"$work/$name.meter"
    printf '  %-38s I %s LUFS, Peak %s dBFS\n' "$(label_of "$name")" "$ffs_i" "$ffs_tp"
done

if [[ "$markdown" == 1 ]]; then
    echo
    echo "| tool | wall s | peak MiB | LUFS (mixdown / ffmpeg) | true peak dBTP (mixdown / ffmpeg) | error LU (mixdown / ffmpeg) | overs | × mixdown time |"
    echo "|---|---:|---:|---:|---:|---:|:---:|---:|"
    for name in "${tools[@]}"; do
        read -r w r mi f_i mt ft me fe mo fo ok < <(summary_of "$name")
        echo "| $(label_of "$name") | $w | $r | $mi / $f_i | $mt / $ft | $me / $fe | $mo / $fo | $(awk -v a="$w" -v b="$t_mix" 'BEGIN { printf "%.1f", a / b }') |"
    done
    if [[ "$long_done" == 1 ]]; then
        read -r w r mi f_i mt ft me fe mo fo ok < <(summary_of long)
        echo "| $(label_of long) | $w | $r | $mi / $f_i | $mt / $ft | $me / $fe | $mo / $fo | $(awk -v d="$long_s" -v w="$w" 'BEGIN { printf "%.0f× realtime", d / w }') |"
    fi
fi

echo
if [[ "$matchering_ok" == 1 ]]; then
    awk -v a="$(wall_of matchering)" -v b="$t_mix" 'BEGIN { printf "speed: matchering / mixdown = %.1fx\n", a / b }'
else
    echo "speed: matchering / mixdown = not measured (matchering skipped)"
fi
awk -v a="$(wall_of loudnorm)" -v b="$t_mix" 'BEGIN { printf "speed: loudnorm (both passes) / mixdown = %.1fx\n", a / b }'
echo "loudnorm: first pass measured I=$m_i LUFS, TP=$m_tp dBTP, LRA=$m_lra LU; second pass ran in ${loudnorm_mode:-unknown} mode"

verdict() { if [[ "$1" == 1 ]]; then echo "MET"; else echo "NOT MET"; fi; }
speed_ok=1
for name in matchering loudnorm; do
    if [[ -f "$work/$name.time" ]]; then
        awk -v a="$(wall_of "$name")" -v b="$t_mix" -v g="$goal_speed" 'BEGIN { exit !(a / b >= g) }' || speed_ok=0
    else
        speed_ok=0
    fi
done
mem_ok=0
awk -v k="$(awk '$2 > m { m = $2 } END { print m }' "$work/mixdown.time")" -v g="$goal_mem_mb" \
    'BEGIN { exit !(k * 1024 < g * 1e6) }' && mem_ok=1
read -r _ _ _ _ _ _ _ _ _ _ mix_ok < <(summary_of mixdown)
others_fail=1
for name in "${tools[@]}"; do
    [[ "$name" == mixdown ]] && continue
    read -r _ _ _ _ _ _ _ _ _ _ ok < <(summary_of "$name")
    [[ "$ok" == 1 ]] && others_fail=0
done
echo "goal: mixdown >= ${goal_speed}x faster than both others: $(verdict "$speed_ok")"
echo "goal: mixdown peak memory < $goal_mem_mb MB: $(verdict "$mem_ok") ($(rss_mib_of mixdown) MiB)"
echo "goal: mixdown within +-$goal_lu LU of $target_lufs LUFS with no overs (both meters): $(verdict "$mix_ok")"
echo "goal: neither other tool does both: $(verdict "$others_fail")"
if [[ "$run_long" == 1 ]]; then
    if [[ "$long_done" == 1 ]]; then
        echo "goal: 60-minute file masters without running out of memory: MET (peak $(rss_mib_of long) MiB)"
    else
        echo "goal: 60-minute file masters without running out of memory: NOT MET (mixdown failed)"
    fi
fi
echo "outputs in $out_dir"
