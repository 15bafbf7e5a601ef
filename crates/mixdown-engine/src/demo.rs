//! The embedded demo song: a short synth-pop piece synthesised from first
//! principles, so `mixdown demo` needs no audio assets and gives the same bits on
//! every machine.
//!
//! # The song
//!
//! 120 BPM in 4/4, A minor, the chord loop Am – F – C – G (i – VI – III – VII), one
//! chord a bar: sixteen bars plus a final Am that rings out, 34 s in all.
//!
//! | bars  | section  | what plays                                                          |
//! |-------|----------|---------------------------------------------------------------------|
//! | 1–2   | intro    | pad alone, its low-pass opening                                     |
//! | 3–4   | intro    | + hats (eighths), bass (whole notes), a snare pickup into the verse |
//! | 5–8   | verse    | + kick, snare backbeat, bass eighths, the lead's verse melody       |
//! | 9–12  | chorus   | crash, sixteenth hats, four-on-the-floor, octave bass, the hook     |
//! | 13–16 | chorus 2 | as before, longer fills, the hook turning down onto A               |
//! | 17    | ending   | final Am on kick, crash, bass, pad and lead; 2 s tail, faded        |
//!
//! The stems are stereo, equally long and sample-aligned: `kick` (pitch-swept sine
//! plus a noise click), `snare` (two decaying partials plus band-passed noise),
//! `hats` (high-passed noise bursts, a little right of centre and slightly wide),
//! `bass` (PolyBLEP saw through an enveloped low-pass, plus a sine sub), `pad`
//! (two detuned PolyBLEP saws per chord note through an automated low-pass, slow
//! attack, wide) and `lead` (PolyBLEP saw/square with glide, delayed vibrato and a
//! dotted-eighth echo). Everything but the pad and hats sits in the centre.
//!
//! # The deliberate imbalance
//!
//! The stems are *not* mixed: automix has to fix them. Integrated loudness at
//! 48 kHz, as rendered and as a plausible balance would have it:
//!
//! | stem  | class        | rendered | balanced | error |
//! |-------|--------------|----------|----------|-------|
//! | kick  | `kick`       | −26 LUFS | −26 LUFS |  0 dB |
//! | snare | `snare`      | −27 LUFS | −27 LUFS |  0 dB |
//! | hats  | `hats`       | −21 LUFS | −30 LUFS | +9 dB |
//! | bass  | `bass`       | −22 LUFS | −27 LUFS | +5 dB |
//! | pad   | `pads`       | −30 LUFS | −30 LUFS |  0 dB |
//! | lead  | `lead-synth` | −33 LUFS | −25 LUFS | −8 dB |
//!
//! So the hats are the loudest stem (6 LU over the snare), the bass sits 4 LU over
//! the kick, and the lead is buried 3 LU under the pad instead of leading 5 LU over
//! it. (K-weighting lifts the hats' band by about 4 dB, which is why even balanced
//! hats read only a few LU under the snare.) The plain sum reads about −17 LUFS
//! with a −1.5 dBFS sample peak; should another sample rate push any stem or the
//! sum over −1 dBFS, one common factor scales everything down, so the relative
//! levels stay as designed.

use mixdown_dsp::biquad::{Biquad, BiquadCoefficients, BiquadKind};
use mixdown_dsp::dither::NoiseSource;
use mixdown_dsp::units::db_to_gain;
use mixdown_dsp::AudioBuffer;
use std::f64::consts::{FRAC_1_SQRT_2, LN_2, TAU};

/// Length of the demo song, seconds: sixteen bars at 120 BPM plus a 2 s ending.
pub const DEMO_DURATION_S: f64 = 34.0;

/// One synthesized stem.
#[derive(Debug, Clone, PartialEq)]
pub struct DemoStem {
    /// File-name-like stem name (`"kick"`, `"pad"`, …).
    pub name: &'static str,
    /// Instrument class (`"kick"`, `"pads"`, `"lead-synth"`, …) automix plans with.
    pub class: &'static str,
    /// Stereo audio, [`DEMO_DURATION_S`] long.
    pub audio: AudioBuffer,
}

const TEMPO_BPM: f64 = 120.0;
/// One sixteenth note, seconds: the grid every event sits on.
const STEP_S: f64 = 60.0 / TEMPO_BPM / 4.0;
const STEPS_PER_BAR: usize = 16;
const BAR_S: f64 = STEP_S * STEPS_PER_BAR as f64;
/// Bars before the final chord; the ending starts on bar `SONG_BARS` (0-based).
const SONG_BARS: usize = 16;
const END_STEP: usize = SONG_BARS * STEPS_PER_BAR;
const FADE_OUT_S: f64 = 0.3;
// The final chord needs its two seconds to ring out before the fade.
const _: () = assert!(DEMO_DURATION_S >= SONG_BARS as f64 * BAR_S + 2.0);
/// Ceiling for every stem and for their plain sum (sample peak).
const CEILING_DBFS: f64 = -1.0;

// Stem gains: these set the deliberate imbalance documented above.
const KICK_GAIN: f64 = 0.1668;
const SNARE_GAIN: f64 = 0.1405;
const HATS_GAIN: f64 = 0.2697;
const BASS_GAIN: f64 = 0.1154;
const PAD_GAIN: f64 = 0.0210;
const LEAD_GAIN: f64 = 0.0834;

// Decay time constants of the hats stem's three sounds.
const HAT_CLOSED_S: f64 = 0.03;
const HAT_OPEN_S: f64 = 0.18;
const HAT_CRASH_S: f64 = 0.8;

// Fixed seeds: the noise is part of the song.
const KICK_SEED: u64 = 0x6B69_636B;
const SNARE_SEED: u64 = 0x736E_6172;
const HATS_SEED: u64 = 0x6861_7473;
const HUMANISE_SEED: u64 = 0x6875_6D61;
const PAD_SEED: u64 = 0x7061_6473;

/// Bass root and pad voicing (MIDI notes) of the four chords; the F is voiced in
/// first inversion and the C and G over their fifth so the pad barely moves.
const CHORDS: [(u8, [u8; 4]); 4] = [
    (33, [57, 60, 64, 69]), // Am
    (29, [57, 60, 65, 69]), // F
    (36, [55, 60, 64, 67]), // C
    (31, [55, 59, 62, 67]), // G
];

/// A melody: (start step, length in steps, MIDI note) from the phrase's first bar.
type Phrase = &'static [(u16, u16, u8)];
const VERSE_MELODY: Phrase = &[
    (4, 2, 76),
    (6, 2, 76),
    (8, 4, 74),
    (12, 4, 72),
    (16, 8, 69),
    (28, 2, 72),
    (30, 2, 69),
    (32, 4, 67),
    (36, 4, 72),
    (40, 6, 76),
    (46, 2, 74),
    (48, 8, 74),
    (60, 2, 72), // pickup C–B into the hook's A
    (62, 2, 71),
];
const HOOK: Phrase = &[
    (0, 4, 69),
    (4, 2, 72),
    (6, 6, 76),
    (12, 2, 74),
    (14, 2, 72),
    (16, 6, 69),
    (22, 2, 72),
    (24, 4, 77),
    (28, 2, 76),
    (30, 2, 74),
    (32, 8, 76),
    (40, 4, 79),
    (44, 4, 76),
];
const HOOK_TURN_FIRST: Phrase = &[(48, 6, 74), (54, 2, 72), (56, 8, 71)];
/// The second turn walks down G–E–D–B onto the final A.
const HOOK_TURN_LAST: Phrase = &[
    (48, 4, 79),
    (52, 4, 76),
    (56, 4, 74),
    (60, 4, 71),
    (64, 12, 69),
];

/// Synthesizes the demo song deterministically at `sample_rate_hz` (stereo stems).
///
/// Panics below 8 kHz, where the hats would have nothing left to play in.
pub fn synthesize_demo_song(sample_rate_hz: u32) -> Vec<DemoStem> {
    assert!(
        sample_rate_hz >= 8_000,
        "the demo song needs a sample rate of at least 8 kHz"
    );
    let tl = Timeline::new(sample_rate_hz);
    let mono = |mut track: Vec<f32>, gain: f64| {
        scale(&mut track, gain);
        [track.clone(), track]
    };
    let mut stems: Vec<(&'static str, &'static str, [Vec<f32>; 2])> = vec![
        (
            "kick",
            "kick",
            mono(render_kick(&tl, &kick_hits()), KICK_GAIN),
        ),
        (
            "snare",
            "snare",
            mono(render_snare(&tl, &snare_hits()), SNARE_GAIN),
        ),
        ("hats", "hats", render_hats(&tl, &hat_hits(), HATS_GAIN)),
        (
            "bass",
            "bass",
            mono(render_bass(&tl, &bass_notes()), BASS_GAIN),
        ),
        ("pad", "pads", render_pad(&tl, PAD_GAIN)),
        (
            "lead",
            "lead-synth",
            render_lead(&tl, &lead_notes(), LEAD_GAIN),
        ),
    ];

    // Fade the tail on every stem alike so the sum ends in silence.
    let fade = tl.secs(FADE_OUT_S).min(tl.frames);
    for channel in stems
        .iter_mut()
        .flat_map(|(_, _, channels)| channels.iter_mut())
    {
        let tail = &mut channel[tl.frames - fade..];
        for (i, x) in tail.iter_mut().enumerate() {
            *x *= (1.0 - (i as f64 + 1.0) / fade as f64) as f32;
        }
    }

    // Safety net, idle at 48 kHz: if a stem or the sum (formed as a caller would,
    // in f32, stems in order) passes the ceiling, scale all stems by one factor so
    // the relative levels (the imbalance) survive.
    let mut peak = 0.0f32;
    let mut sum = vec![0.0f32; tl.frames];
    for ch in 0..2 {
        sum.fill(0.0);
        for (_, _, channels) in &stems {
            for (s, &x) in sum.iter_mut().zip(&channels[ch]) {
                *s += x;
            }
            peak = peak.max(peak_magnitude(&channels[ch]));
        }
        peak = peak.max(peak_magnitude(&sum));
    }
    let peak = f64::from(peak);
    let ceiling = db_to_gain(CEILING_DBFS);
    if peak > ceiling {
        for channel in stems
            .iter_mut()
            .flat_map(|(_, _, channels)| channels.iter_mut())
        {
            scale(channel, ceiling / peak);
        }
    }

    stems
        .into_iter()
        .map(|(name, class, [left, right])| DemoStem {
            name,
            class,
            audio: AudioBuffer::from_channels(sample_rate_hz, vec![left, right]),
        })
        .collect()
}

/// Maps the musical grid to frames at one sample rate.
struct Timeline {
    rate: f64,
    frames: usize,
}

impl Timeline {
    fn new(sample_rate_hz: u32) -> Self {
        let rate = f64::from(sample_rate_hz);
        Self {
            rate,
            frames: (DEMO_DURATION_S * rate).round() as usize,
        }
    }

    /// First frame of (possibly fractional) sixteenth `step`; rounding from the
    /// absolute time keeps the grid exact at rates where a step is not whole frames.
    fn frame(&self, step: f64) -> usize {
        (step * STEP_S * self.rate).round() as usize
    }

    fn secs(&self, seconds: f64) -> usize {
        (seconds * self.rate).round() as usize
    }
}

fn midi_hz(note: f64) -> f64 {
    440.0 * ((note - 69.0) * LN_2 / 12.0).exp()
}

fn chord_of_bar(bar: usize) -> (u8, [u8; 4]) {
    CHORDS[bar % CHORDS.len()]
}

/// Largest magnitude; eight independent lanes let the compiler vectorise it.
fn peak_magnitude(samples: &[f32]) -> f32 {
    let mut lanes = [0.0f32; 8];
    let chunks = samples.chunks_exact(8);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (lane, &x) in lanes.iter_mut().zip(chunk) {
            let magnitude = x.abs();
            *lane = if magnitude > *lane { magnitude } else { *lane };
        }
    }
    rest.iter()
        .chain(&lanes)
        .fold(0.0f32, |p, &x| if x.abs() > p { x.abs() } else { p })
}

fn scale(track: &mut [f32], gain: f64) {
    for x in track {
        *x = (f64::from(*x) * gain) as f32;
    }
}

/// Designs a section, keeping the corner safely below Nyquist at low rates.
fn design(kind: BiquadKind, freq_hz: f64, q: f64, rate: f64) -> BiquadCoefficients {
    BiquadCoefficients::design(kind, freq_hz.min(0.45 * rate), q, rate)
}

/// Runs a cascade of sections over `track` in place, from cleared state.
fn filter_track<const N: usize>(track: &mut [f32], chain: [BiquadCoefficients; N]) {
    run_chain(&mut chain.map(Biquad::new), track);
}

/// Runs a cascade in place, all sections per sample: their recursions are
/// independent, so the CPU overlaps them instead of paying each one's latency in turn.
///
/// The stems have long silences, in which a recursive filter's state would decay
/// into subnormal numbers and run ~100× slower; a −500 dBFS offset at each input
/// keeps the state normal, and flushing the residue at the output keeps subnormals
/// out of the `f32` tracks.
fn run_chain(sections: &mut [Biquad], track: &mut [f32]) {
    const ANTI_DENORMAL: f64 = 1e-25;
    for x in track {
        let mut y = f64::from(*x);
        for section in sections.iter_mut() {
            y = section.process_sample(y + ANTI_DENORMAL);
        }
        *x = if y.abs() < 1e-20 { 0.0 } else { y as f32 };
    }
}

/// A 20 Hz high-pass. Enveloped sine and saw bursts (kick, snare head, bass
/// notes) each leave a little DC behind, which meters flag; this removes it
/// without touching the 45 Hz kick (−0.2 dB) or the 44 Hz low F.
fn remove_dc(track: &mut [f32], rate: f64) {
    filter_track(
        track,
        [design(BiquadKind::HighPass, 20.0, FRAC_1_SQRT_2, rate)],
    );
}

/// A low-pass whose cutoff follows `cutoff_hz(seconds)`, redesigned every 64 frames
/// (fine enough for slow sweeps, cheap enough to ignore), then a fixed `tail`.
fn automated_lowpass(
    track: &mut [f32],
    rate: f64,
    q: f64,
    cutoff_hz: impl Fn(f64) -> f64,
    tail: BiquadCoefficients,
) {
    const BLOCK: usize = 64;
    let mut sections = [Biquad::new(BiquadCoefficients::IDENTITY), Biquad::new(tail)];
    for (block, chunk) in track.chunks_mut(BLOCK).enumerate() {
        let t = (block * BLOCK) as f64 / rate;
        sections[0].set_coefficients(design(BiquadKind::LowPass, cutoff_hz(t), q, rate));
        run_chain(&mut sections, chunk);
    }
}

/// PolyBLEP residual (Välimäki & Huovilainen 2007): subtracting it from a naive
/// waveform at each discontinuity removes most of the aliasing for almost nothing.
#[inline]
fn poly_blep(t: f64, dt: f64) -> f64 {
    if t < dt {
        let x = t / dt;
        2.0 * x - x * x - 1.0
    } else if t > 1.0 - dt {
        let x = (t - 1.0) / dt;
        x * x + 2.0 * x + 1.0
    } else {
        0.0
    }
}

/// `sin(2π·phase)` for `phase` in [0, 1): the Taylor series to t¹³ on the folded
/// quarter-wave, error below 1e-9, and cheaper than `f64::sin` on the millions of
/// kick, snare and sub samples.
#[inline]
fn sin_cycles(phase: f64) -> f64 {
    // Highest power first, for Horner's scheme in t².
    const TAYLOR: [f64; 7] = [
        1.0 / 6_227_020_800.0,
        -1.0 / 39_916_800.0,
        1.0 / 362_880.0,
        -1.0 / 5_040.0,
        1.0 / 120.0,
        -1.0 / 6.0,
        1.0,
    ];
    // sin(2πp) = −sin(2π(p − ½)); fold p − ½ into [−¼, ¼] using sin(π − θ) = sin θ.
    let mut x = phase - 0.5;
    if x > 0.25 {
        x = 0.5 - x;
    } else if x < -0.25 {
        x = -0.5 - x;
    }
    let t = TAU * x;
    let t2 = t * t;
    -t * TAYLOR.iter().fold(0.0, |acc, &c| acc * t2 + c)
}

/// A phase accumulator with band-limited-ish waveforms; `dt` is frequency / rate.
#[derive(Debug, Clone, Copy, Default)]
struct Oscillator {
    phase: f64,
}

impl Oscillator {
    fn at_phase(phase: f64) -> Self {
        Self { phase }
    }

    #[inline]
    fn advance(&mut self, dt: f64) {
        self.phase += dt;
        if self.phase >= 1.0 {
            self.phase -= 1.0;
        }
    }

    #[inline]
    fn saw(&mut self, dt: f64) -> f64 {
        let value = 2.0 * self.phase - 1.0 - poly_blep(self.phase, dt);
        self.advance(dt);
        value
    }

    #[inline]
    fn square(&mut self, dt: f64) -> f64 {
        let p = self.phase;
        let naive = if p < 0.5 { 1.0 } else { -1.0 };
        let opposite = if p < 0.5 { p + 0.5 } else { p - 0.5 };
        let value = naive + poly_blep(p, dt) - poly_blep(opposite, dt);
        self.advance(dt);
        value
    }

    #[inline]
    fn sine(&mut self, dt: f64) -> f64 {
        let value = sin_cycles(self.phase);
        self.advance(dt);
        value
    }
}

/// Envelope shape: linear attack, exponential decay and release (time constants).
#[derive(Debug, Clone, Copy)]
struct Adsr {
    attack_s: f64,
    decay_s: f64,
    sustain: f64,
    release_s: f64,
}

/// A running [`Adsr`] whose gate closes after `gate` frames.
struct Envelope {
    level: f64,
    attack_step: f64,
    decay_k: f64,
    release_k: f64,
    sustain: f64,
    gate: usize,
    elapsed: usize,
    attacking: bool,
}

impl Envelope {
    fn new(shape: Adsr, gate: usize, rate: f64) -> Self {
        Self {
            level: 0.0,
            attack_step: 1.0 / (shape.attack_s * rate).max(1.0),
            decay_k: (-1.0 / (shape.decay_s * rate)).exp(),
            release_k: (-1.0 / (shape.release_s * rate)).exp(),
            sustain: shape.sustain,
            gate,
            elapsed: 0,
            attacking: true,
        }
    }

    #[inline]
    fn next(&mut self) -> f64 {
        if self.elapsed < self.gate {
            if self.attacking {
                self.level += self.attack_step;
                if self.level >= 1.0 {
                    self.level = 1.0;
                    self.attacking = false;
                }
            } else {
                self.level = self.sustain + (self.level - self.sustain) * self.decay_k;
            }
        } else {
            self.level *= self.release_k;
        }
        self.elapsed += 1;
        self.level
    }

    /// The same envelope picking up from `level` (a legato retrigger).
    fn starting_at(mut self, level: f64) -> Self {
        self.level = level;
        self
    }

    /// Released and below −80 dB: the voice can stop.
    fn finished(&self) -> bool {
        self.elapsed >= self.gate && self.level < 1e-4
    }
}

/// A drum hit on the sixteenth grid.
#[derive(Debug, Clone, Copy)]
struct Hit {
    step: usize,
    velocity: f64,
    decay_s: f64,
}

/// Frames a drum voice plays for: from its hit until it has rung `ring_s`, or, if
/// `chokes`, until shortly after the next hit, which retriggers the voice as on a
/// drum machine (and keeps the work proportional to the song, not to the hits).
/// Returns `(start, end, choke)`; from `choke` on the voice fades with [`CHOKE_S`].
fn drum_voice(
    tl: &Timeline,
    hits: &[Hit],
    j: usize,
    ring_s: f64,
    chokes: bool,
) -> (usize, usize, usize) {
    let start = tl.frame(hits[j].step as f64);
    let choke = match hits.get(j + 1) {
        Some(next) if chokes => tl.frame(next.step as f64),
        _ => usize::MAX,
    };
    // 7.5 choke time constants: −65 dB.
    let end = (start + tl.secs(ring_s))
        .min(choke.saturating_add(tl.secs(7.5 * CHOKE_S)))
        .min(tl.frames);
    (start, end, choke)
}

/// Time constant of a choked drum voice's fade, seconds.
const CHOKE_S: f64 = 0.004;

/// A pitched note on the sixteenth grid.
#[derive(Debug, Clone, Copy)]
struct Note {
    step: f64,
    steps: f64,
    midi: f64,
    velocity: f64,
}

fn kick_hits() -> Vec<Hit> {
    let mut hits = Vec::new();
    for bar in 4..SONG_BARS {
        let steps: &[usize] = match bar {
            7 => &[0, 8], // leave room for the verse-end fill
            11 => &[0, 4, 8],
            15 => &[0, 4],
            4..=6 if bar % 2 == 0 => &[0, 8, 10],
            4..=6 => &[0, 6, 8, 10],
            _ if bar % 2 == 1 => &[0, 4, 8, 12, 14],
            _ => &[0, 4, 8, 12],
        };
        for &s in steps {
            let velocity = if s % 4 == 0 { 1.0 } else { 0.8 };
            hits.push(Hit {
                step: bar * STEPS_PER_BAR + s,
                velocity,
                decay_s: 0.2,
            });
        }
    }
    hits.push(Hit {
        step: END_STEP,
        velocity: 1.0,
        decay_s: 0.35,
    });
    hits
}

fn snare_hits() -> Vec<Hit> {
    let mut hits = Vec::new();
    let mut push = |bar: usize, step: usize, velocity: f64| {
        hits.push(Hit {
            step: bar * STEPS_PER_BAR + step,
            velocity,
            decay_s: 0.11,
        });
    };
    // Pickup into the verse: four sixteenths, crescendo.
    for (i, s) in (12..16).enumerate() {
        push(3, s, 0.35 + 0.2 * i as f64);
    }
    for bar in 4..SONG_BARS {
        push(bar, 4, 1.0);
        let fill: &[(usize, f64)] = match bar {
            7 => &[(12, 1.0), (13, 0.55), (14, 0.75), (15, 0.95)],
            11 => &[
                (10, 0.6),
                (11, 0.7),
                (12, 1.0),
                (13, 0.7),
                (14, 0.85),
                (15, 1.0),
            ],
            15 => &[
                (8, 0.5),
                (9, 0.55),
                (10, 0.6),
                (11, 0.7),
                (12, 0.95),
                (13, 0.8),
                (14, 0.9),
                (15, 1.0),
            ],
            // Ghost notes only in the chorus, to lift it.
            8.. => &[(7, 0.2), (12, 1.0), (15, 0.25)],
            _ => &[(12, 1.0)],
        };
        for &(s, velocity) in fill {
            push(bar, s, velocity);
        }
    }
    push(SONG_BARS, 0, 0.9);
    hits
}

fn hat_hits() -> Vec<Hit> {
    // Deterministic velocity jitter so the hats do not sound machine-gunned.
    let mut humanise = NoiseSource::new(HUMANISE_SEED);
    let mut hits = Vec::new();
    for bar in 2..SONG_BARS {
        let chorus = bar >= 8;
        // The hats drop out under the chorus fills.
        let until = match bar {
            11 => 10,
            15 => 8,
            _ => STEPS_PER_BAR,
        };
        for s in (0..until).filter(|s| chorus || s % 2 == 0) {
            let jitter = 1.0 + 0.12 * humanise.next_uniform();
            let (velocity, decay_s) = if s == 0 && (bar == 8 || bar == 12) {
                (1.0, HAT_CRASH_S)
            } else if s == 14 && (chorus || bar % 2 == 1) {
                (0.75 * jitter, HAT_OPEN_S)
            } else {
                let accent = match s % 4 {
                    0 => 1.0,
                    2 => 0.7,
                    _ => 0.45,
                };
                (accent * jitter, HAT_CLOSED_S)
            };
            hits.push(Hit {
                step: bar * STEPS_PER_BAR + s,
                velocity,
                decay_s,
            });
        }
    }
    hits.push(Hit {
        step: END_STEP,
        velocity: 1.0,
        decay_s: HAT_CRASH_S * 1.25,
    });
    hits
}

fn bass_notes() -> Vec<Note> {
    let mut notes = Vec::new();
    for bar in 2..SONG_BARS {
        let root = f64::from(chord_of_bar(bar).0);
        let base = (bar * STEPS_PER_BAR) as f64;
        let pattern: &[(f64, f64, f64, f64)] = match bar {
            2 | 3 => &[(0.0, 16.0, 0.0, 0.8)],
            4..=7 => &[
                (0.0, 6.0, 0.0, 1.0),
                (6.0, 2.0, 0.0, 0.75),
                (8.0, 4.0, 0.0, 0.9),
                (12.0, 2.0, 12.0, 0.8),
                (14.0, 2.0, 0.0, 0.75),
            ],
            _ => &[
                (0.0, 2.0, 0.0, 1.0),
                (2.0, 2.0, 12.0, 0.8),
                (4.0, 2.0, 0.0, 0.95),
                (6.0, 2.0, 12.0, 0.8),
                (8.0, 2.0, 0.0, 1.0),
                (10.0, 2.0, 12.0, 0.8),
                (12.0, 2.0, 0.0, 0.95),
                (14.0, 2.0, 12.0, 0.8),
            ],
        };
        for &(step, steps, offset, velocity) in pattern {
            notes.push(Note {
                step: base + step,
                steps,
                midi: root + offset,
                velocity,
            });
        }
        // Before each new section a chromatic G♯ leads the G bar back to A.
        if matches!(bar, 7 | 11 | 15) {
            if let Some(last) = notes.last_mut() {
                last.midi = 32.0;
            }
        }
    }
    notes.push(Note {
        step: END_STEP as f64,
        steps: 12.0,
        midi: 33.0,
        velocity: 1.0,
    });
    notes
}

fn lead_notes() -> Vec<Note> {
    let phrases: [(usize, Phrase); 5] = [
        (4, VERSE_MELODY),
        (8, HOOK),
        (8, HOOK_TURN_FIRST),
        (12, HOOK),
        (12, HOOK_TURN_LAST),
    ];
    let mut notes = Vec::new();
    for (bar, phrase) in phrases {
        for &(step, steps, midi) in phrase {
            notes.push(Note {
                step: (bar * STEPS_PER_BAR) as f64 + f64::from(step),
                steps: f64::from(steps),
                midi: f64::from(midi),
                // Longer notes are leant on a little.
                velocity: if steps >= 4 { 1.0 } else { 0.85 },
            });
        }
    }
    notes
}

/// Kick: a sine swept from ~160 Hz down to 45 Hz, plus a 4 ms noise click
/// band-passed to the beater's 1.5–6 kHz.
fn render_kick(tl: &Timeline, hits: &[Hit]) -> Vec<f32> {
    const CLICK_LEVEL: f64 = 0.3;
    let rate = tl.rate;
    let mut track = vec![0.0f32; tl.frames];
    let mut noise = NoiseSource::new(KICK_SEED);
    let sweep_k = (-1.0 / (0.03 * rate)).exp();
    let click_k = (-1.0 / (0.0008 * rate)).exp();
    let attack = tl.secs(0.001).max(1) as f64;
    let click_band = [
        design(BiquadKind::HighPass, 1_500.0, FRAC_1_SQRT_2, rate),
        design(BiquadKind::LowPass, 6_000.0, FRAC_1_SQRT_2, rate),
    ];
    // The click is filtered per hit (4 ms burst + 11 ms of filter ring), not over
    // the whole track, which would be mostly silence.
    let click_frames = tl.secs(0.004);
    let mut click = vec![0.0f32; tl.secs(0.015).max(click_frames)];
    let choke_k = (-1.0 / (CHOKE_S * rate)).exp();
    for (j, hit) in hits.iter().enumerate() {
        // Rings down to −80 dB unless the next kick cuts it off.
        let (start, end, choke) = drum_voice(tl, hits, j, hit.decay_s * 9.2, true);
        let amp_k = (-1.0 / (hit.decay_s * rate)).exp();
        let (mut phase, mut sweep, mut amp) = (0.0f64, 1.0f64, hit.velocity);
        for (i, out) in track[start..end].iter_mut().enumerate() {
            let ramp = ((i + 1) as f64 / attack).min(1.0);
            *out += (ramp * amp * sin_cycles(phase)) as f32;
            phase += (45.0 + 115.0 * sweep) / rate;
            if phase >= 1.0 {
                phase -= 1.0;
            }
            sweep *= sweep_k;
            amp *= if start + i < choke { amp_k } else { choke_k };
        }
        click.fill(0.0);
        let mut level = CLICK_LEVEL * hit.velocity;
        for c in &mut click[..click_frames] {
            *c = (level * 2.0 * noise.next_uniform()) as f32;
            level *= click_k;
        }
        filter_track(&mut click, click_band);
        for (out, c) in track[start..].iter_mut().zip(&click) {
            *out += c;
        }
    }
    remove_dc(&mut track, tl.rate);
    track
}

/// Snare: two decaying drum-head partials plus high-passed, bell-boosted noise.
fn render_snare(tl: &Timeline, hits: &[Hit]) -> Vec<f32> {
    let rate = tl.rate;
    let mut body = vec![0.0f32; tl.frames];
    let mut wires = vec![0.0f32; tl.frames];
    let mut noise = NoiseSource::new(SNARE_SEED);
    let tone_k = (-1.0 / (0.05 * rate)).exp();
    let bend_k = (-1.0 / (0.012 * rate)).exp();
    let choke_k = (-1.0 / (CHOKE_S * rate)).exp();
    for (j, hit) in hits.iter().enumerate() {
        // Under the wires, stopping the tone at −60 dB is inaudible.
        let (start, end, choke) = drum_voice(tl, hits, j, 0.05 * 6.9, true);
        let (mut low, mut high) = (Oscillator::default(), Oscillator::default());
        let (mut tone, mut bend) = (hit.velocity, 1.0f64);
        for (i, out) in body[start..end].iter_mut().enumerate() {
            // The head's pitch drops ~15 % right after the strike.
            let pitch = 1.0 + 0.15 * bend;
            let partials =
                0.7 * low.sine(185.0 * pitch / rate) + 0.35 * high.sine(330.0 * pitch / rate);
            *out += (tone * partials) as f32;
            tone *= if start + i < choke { tone_k } else { choke_k };
            bend *= bend_k;
        }
        let (start, end, choke) = drum_voice(tl, hits, j, hit.decay_s * 6.9, true);
        let wires_k = (-1.0 / (hit.decay_s * rate)).exp();
        let mut rattle = hit.velocity;
        for (i, out) in wires[start..end].iter_mut().enumerate() {
            *out += (rattle * 2.0 * noise.next_uniform()) as f32;
            rattle *= if start + i < choke { wires_k } else { choke_k };
        }
    }
    filter_track(
        &mut wires,
        [
            design(BiquadKind::HighPass, 1_000.0, FRAC_1_SQRT_2, rate),
            design(BiquadKind::Bell { gain_db: 5.0 }, 4_500.0, 1.0, rate),
            design(BiquadKind::LowPass, 11_000.0, FRAC_1_SQRT_2, rate),
        ],
    );
    for (b, w) in body.iter_mut().zip(&wires) {
        *b += 0.8 * w;
    }
    remove_dc(&mut body, tl.rate);
    body
}

/// Hats: noise bursts high-passed at 7 kHz (fourth order). Each side mixes a shared
/// noise with its own, so the hats are slightly wide, and the left is 2.5 dB down,
/// putting them right of centre. As on a real hi-hat, the next hit chokes the last
/// (crashes excepted, which ring).
fn render_hats(tl: &Timeline, hits: &[Hit], gain: f64) -> [Vec<f32>; 2] {
    let rate = tl.rate;
    let mut left = vec![0.0f32; tl.frames];
    let mut right = vec![0.0f32; tl.frames];
    let mut shared = NoiseSource::new(HATS_SEED);
    let mut own = NoiseSource::new(HATS_SEED + 1);
    let choke_k = (-1.0 / (CHOKE_S * rate)).exp();
    for (j, hit) in hits.iter().enumerate() {
        // Noise needs no smooth tail: stopping at −60 dB is inaudible.
        let (start, end, choke) =
            drum_voice(tl, hits, j, hit.decay_s * 6.9, hit.decay_s < HAT_CRASH_S);
        let k = (-1.0 / (hit.decay_s * rate)).exp();
        let mut level = 2.0 * hit.velocity;
        for (i, (l, r)) in left[start..end]
            .iter_mut()
            .zip(&mut right[start..end])
            .enumerate()
        {
            let common = 0.85 * shared.next_uniform();
            // One 64-bit draw gives both sides' own noise (32 bits each).
            let bits = own.next_u64();
            let own_left = (bits >> 32) as f64 / 4_294_967_296.0 - 0.5;
            let own_right = (bits & 0xFFFF_FFFF) as f64 / 4_294_967_296.0 - 0.5;
            *l += (level * (common + 0.5 * own_left)) as f32;
            *r += (level * (common + 0.5 * own_right)) as f32;
            level *= if start + i < choke { k } else { choke_k };
        }
    }
    for (track, side_gain) in [(&mut left, gain * db_to_gain(-2.5)), (&mut right, gain)] {
        filter_track(
            track,
            [
                design(BiquadKind::HighPass, 7_000.0, FRAC_1_SQRT_2, rate),
                design(BiquadKind::HighPass, 7_000.0, FRAC_1_SQRT_2, rate),
                design(BiquadKind::Bell { gain_db: 4.0 }, 11_000.0, 0.9, rate),
            ],
        );
        scale(track, side_gain);
    }
    [left, right]
}

/// Bass: PolyBLEP saw through a resonant low-pass whose cutoff falls after each
/// note's onset (redesigned every 32 frames), plus a sine at the root for weight
/// the filter cannot thin out.
fn render_bass(tl: &Timeline, notes: &[Note]) -> Vec<f32> {
    const BLOCK: usize = 32;
    let rate = tl.rate;
    let shape = Adsr {
        attack_s: 0.004,
        decay_s: 0.3,
        sustain: 0.7,
        release_s: 0.02,
    };
    let filter_k = (-(BLOCK as f64) / (0.08 * rate)).exp();
    let mut track = vec![0.0f32; tl.frames];
    for note in notes {
        let start = tl.frame(note.step);
        let gate = tl.frame(note.step + 0.85 * note.steps) - start;
        let mut env = Envelope::new(shape, gate, rate);
        let hz = midi_hz(note.midi);
        let dt = hz / rate;
        let (mut saw, mut sub) = (Oscillator::default(), Oscillator::default());
        let mut section = Biquad::new(BiquadCoefficients::IDENTITY);
        let mut filter_env = 1.0;
        for (i, out) in track[start..].iter_mut().enumerate() {
            if i % BLOCK == 0 {
                let cutoff = 150.0 + 2.0 * hz + 1_600.0 * note.velocity * filter_env;
                section.set_coefficients(design(BiquadKind::LowPass, cutoff, 1.2, rate));
                filter_env *= filter_k;
            }
            // A rising saw's fundamental is −(2/π)·sin: subtracting the sine
            // reinforces it (adding it would all but cancel the fundamental).
            let tone = section.process_sample(saw.saw(dt)) - 0.6 * sub.sine(dt);
            *out += (env.next() * note.velocity * tone) as f32;
            if env.finished() {
                break;
            }
        }
    }
    remove_dc(&mut track, tl.rate);
    track
}

/// Pad: per chord note a saw 7 cents flat and one 7 cents sharp (PolyBLEP); each
/// side takes one set plus a little of the other, so the pad beats like a chorus and
/// is wide yet mono-compatible. Slow attack, and a low-pass that opens over the
/// intro, brightens for the chorus and closes on the last chord.
fn render_pad(tl: &Timeline, gain: f64) -> [Vec<f32>; 2] {
    const DETUNE_CENTS: f64 = 7.0;
    const BLEED: f64 = 0.4;
    let rate = tl.rate;
    let mut tracks = [vec![0.0f32; tl.frames], vec![0.0f32; tl.frames]];
    let mut phases = NoiseSource::new(PAD_SEED);
    for bar in 0..=SONG_BARS {
        let (_, voicing) = chord_of_bar(bar);
        let start = tl.frame((bar * STEPS_PER_BAR) as f64);
        let (attack_s, gate_s) = match bar {
            0..=3 => (0.8, BAR_S),
            SONG_BARS => (0.05, 1.0),
            _ => (0.35, BAR_S),
        };
        let shape = Adsr {
            attack_s,
            decay_s: 1.0,
            sustain: 1.0,
            release_s: 0.2,
        };
        let mut env = Envelope::new(shape, tl.secs(gate_s), rate);
        // Voices 0–3 flat, 4–7 sharp; random start phases avoid a phasey onset.
        let mut oscillators = [Oscillator::default(); 8];
        let mut dts = [0.0f64; 8];
        for (v, (osc, dt)) in oscillators.iter_mut().zip(&mut dts).enumerate() {
            let cents = if v < 4 { -DETUNE_CENTS } else { DETUNE_CENTS };
            *dt = midi_hz(f64::from(voicing[v % 4]) + cents / 100.0) / rate;
            *osc = Oscillator::at_phase(phases.next_uniform() + 0.5);
        }
        let [left, right] = &mut tracks;
        for (l, r) in left[start..].iter_mut().zip(&mut right[start..]) {
            let e = env.next();
            let (mut flat, mut sharp) = (0.0, 0.0);
            for (osc, &dt) in oscillators[..4].iter_mut().zip(&dts[..4]) {
                flat += osc.saw(dt);
            }
            for (osc, &dt) in oscillators[4..].iter_mut().zip(&dts[4..]) {
                sharp += osc.saw(dt);
            }
            *l += (e * (flat + BLEED * sharp)) as f32;
            *r += (e * (sharp + BLEED * flat)) as f32;
            if env.finished() {
                break;
            }
        }
    }
    let cutoff_hz = |t: f64| {
        let bar = t / BAR_S;
        if bar < 4.0 {
            350.0 * (2_200.0f64 / 350.0).powf(bar / 4.0)
        } else if bar < 8.0 {
            2_200.0
        } else if bar < SONG_BARS as f64 {
            3_200.0
        } else {
            3_200.0 * 0.3f64.powf(bar - SONG_BARS as f64)
        }
    };
    for track in &mut tracks {
        // The high-pass keeps the pad out of the bass's octave.
        let high_pass = design(BiquadKind::HighPass, 110.0, FRAC_1_SQRT_2, rate);
        automated_lowpass(track, rate, 0.8, cutoff_hz, high_pass);
        scale(track, gain);
    }
    tracks
}

/// Lead: one monophonic voice, saw + square (PolyBLEP), gliding between legato
/// notes, with vibrato that fades in after 0.2 s, a 4 kHz low-pass and a
/// dotted-eighth echo. As on the mono synths it imitates, oscillators and envelope
/// run on from note to note, so a new note never clicks.
fn render_lead(tl: &Timeline, notes: &[Note], gain: f64) -> [Vec<f32>; 2] {
    const PITCH_BLOCK: usize = 8;
    let rate = tl.rate;
    let shape = Adsr {
        attack_s: 0.01,
        decay_s: 0.3,
        sustain: 0.7,
        release_s: 0.08,
    };
    let glide_k = (-(PITCH_BLOCK as f64) / (0.03 * rate)).exp();
    let velocity_k = (-1.0 / (0.005 * rate)).exp();
    let mut dry = vec![0.0f32; tl.frames];
    let (mut saw, mut square) = (Oscillator::default(), Oscillator::default());
    let (mut level, mut velocity) = (0.0, 0.0);
    for (j, note) in notes.iter().enumerate() {
        let start = tl.frame(note.step);
        let end = notes
            .get(j + 1)
            .map_or(tl.frames, |next| tl.frame(next.step).min(tl.frames));
        let gate = tl.frame(note.step + 0.92 * note.steps) - start;
        let mut env = Envelope::new(shape, gate, rate).starting_at(level);
        // Slide in from the previous note when the line is legato.
        let mut glide = match j.checked_sub(1).map(|i| notes[i]) {
            Some(previous) if previous.step + previous.steps >= note.step => {
                previous.midi - note.midi
            }
            _ => 0.0,
        };
        let hz = midi_hz(note.midi);
        let mut lfo = Oscillator::default();
        let mut dt = hz / rate;
        for (i, out) in dry[start..end].iter_mut().enumerate() {
            // Pitch moves slowly: updating it every 8 frames is inaudible and cheap.
            if i % PITCH_BLOCK == 0 {
                let t = i as f64 / rate;
                let depth = 0.2 * ((t - 0.2) / 0.3).clamp(0.0, 1.0);
                let semitones = glide + depth * lfo.sine(PITCH_BLOCK as f64 * 5.5 / rate);
                dt = hz * (semitones * LN_2 / 12.0).exp() / rate;
                glide *= glide_k;
            }
            // Velocity is smoothed too, or a legato change in it would click.
            velocity = note.velocity + (velocity - note.velocity) * velocity_k;
            level = env.next();
            let tone = 0.55 * saw.saw(dt) + 0.45 * square.square(dt);
            *out += (level * velocity * tone) as f32;
            if env.finished() {
                level = 0.0;
                break;
            }
        }
    }
    filter_track(
        &mut dry,
        [design(BiquadKind::LowPass, 4_000.0, FRAC_1_SQRT_2, rate)],
    );

    // Dotted-eighth echo, darker on every repeat.
    let delay = tl.frame(3.0).max(1);
    let mut line = vec![0.0f32; delay];
    let mut damping = Biquad::new(design(BiquadKind::LowPass, 2_500.0, FRAC_1_SQRT_2, rate));
    let mut out = vec![0.0f32; tl.frames];
    let mut head = 0;
    for (o, &x) in out.iter_mut().zip(&dry) {
        let echo = f64::from(line[head]);
        *o = ((f64::from(x) + 0.25 * echo) * gain) as f32;
        line[head] = (f64::from(x) + 0.35 * damping.process_sample(echo)) as f32;
        head = if head + 1 == delay { 0 } else { head + 1 };
    }
    [out.clone(), out]
}

#[cfg(test)]
mod tests {
    use super::*;
    use mixdown_analysis::loudness::measure_loudness;
    use mixdown_analysis::third_octave_spectrum;
    use mixdown_dsp::units::gain_to_db;
    use std::sync::OnceLock;

    const RATE: u32 = 48_000;
    const CLASSES: [&str; 19] = [
        "kick",
        "snare",
        "hats",
        "cymbals",
        "toms",
        "percussion",
        "drums",
        "bass",
        "lead-vocal",
        "backing-vocal",
        "guitar",
        "keys",
        "piano",
        "pads",
        "strings",
        "brass",
        "lead-synth",
        "fx",
        "other",
    ];

    fn song() -> &'static [DemoStem] {
        static SONG: OnceLock<Vec<DemoStem>> = OnceLock::new();
        SONG.get_or_init(|| synthesize_demo_song(RATE))
    }

    fn stem(name: &str) -> &'static DemoStem {
        song().iter().find(|s| s.name == name).expect("stem exists")
    }

    fn peak_dbfs(audio: &AudioBuffer) -> f64 {
        let peak = audio
            .channels
            .iter()
            .flatten()
            .fold(0.0f32, |p, x| p.max(x.abs()));
        gain_to_db(f64::from(peak))
    }

    fn plain_sum(stems: &[DemoStem]) -> AudioBuffer {
        let mut sum = AudioBuffer::silent(stems[0].audio.sample_rate_hz, 2, 0);
        for s in stems {
            sum.mix_in(&s.audio);
        }
        sum
    }

    fn lufs_of(audio: &AudioBuffer) -> f64 {
        measure_loudness(&audio.channel_slices(), audio.sample_rate_hz)
            .expect("stereo is meterable")
            .integrated_lufs
            .expect("stem is audible")
    }

    fn lufs(name: &str) -> f64 {
        lufs_of(&stem(name).audio)
    }

    /// The relations automix is meant to find and undo, given each stem's LUFS.
    fn assert_imbalance(level: impl Fn(&str) -> f64) {
        assert!(
            level("hats") - level("snare") >= 5.5,
            "hats should be far too loud"
        );
        assert!(level("hats") > level("kick") + 4.0);
        assert!(
            level("bass") - level("kick") >= 3.5,
            "bass should be too loud"
        );
        assert!(
            level("pad") - level("lead") >= 2.5,
            "the lead should be buried"
        );
        for other in ["kick", "snare", "hats", "bass", "pad"] {
            assert!(
                level("lead") < level(other),
                "the lead should be the quietest"
            );
        }
    }

    /// Mean of the two channels, the signal a spectrum is taken of.
    fn mid(audio: &AudioBuffer) -> Vec<f32> {
        audio.channels[0]
            .iter()
            .zip(&audio.channels[1])
            .map(|(l, r)| 0.5 * (l + r))
            .collect()
    }

    #[test]
    fn synthesis_is_deterministic_to_the_bit() {
        let again = synthesize_demo_song(RATE);
        assert_eq!(again.len(), song().len());
        for (a, b) in again.iter().zip(song()) {
            assert_eq!((a.name, a.class), (b.name, b.class));
            for (x, y) in a.audio.channels.iter().zip(&b.audio.channels) {
                assert!(
                    x.iter()
                        .map(|v| v.to_bits())
                        .eq(y.iter().map(|v| v.to_bits())),
                    "{} differs between calls",
                    a.name
                );
            }
        }
    }

    #[test]
    fn stems_are_named_classed_stereo_and_aligned() {
        const { assert!(DEMO_DURATION_S >= 32.0) };
        let frames = (DEMO_DURATION_S * f64::from(RATE)).round() as usize;
        let names: Vec<&str> = song().iter().map(|s| s.name).collect();
        assert_eq!(names, ["kick", "snare", "hats", "bass", "pad", "lead"]);
        for s in song() {
            assert!(
                CLASSES.contains(&s.class),
                "{}: unknown class {}",
                s.name,
                s.class
            );
            assert!(s
                .name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'));
            assert_eq!(s.audio.sample_rate_hz, RATE);
            assert_eq!(s.audio.channel_count(), 2, "{}", s.name);
            assert_eq!(s.audio.frame_count(), frames, "{}", s.name);
        }
    }

    #[test]
    fn every_stem_is_audible() {
        for s in song() {
            assert!(
                peak_dbfs(&s.audio) > -30.0,
                "{} peaks at {:.1} dBFS",
                s.name,
                peak_dbfs(&s.audio)
            );
            assert!(
                lufs(s.name) > -40.0,
                "{} reads {:.1} LUFS",
                s.name,
                lufs(s.name)
            );
        }
    }

    #[test]
    fn no_stem_carries_dc() {
        for s in song() {
            for channel in &s.audio.channels {
                let mean =
                    channel.iter().map(|&x| f64::from(x)).sum::<f64>() / channel.len() as f64;
                assert!(
                    gain_to_db(mean) < -100.0,
                    "{}: DC at {:.1} dBFS",
                    s.name,
                    gain_to_db(mean)
                );
            }
        }
    }

    #[test]
    fn stems_and_their_sum_peak_below_full_scale() {
        for s in song() {
            let peak = peak_dbfs(&s.audio);
            assert!(
                peak <= CEILING_DBFS + 0.01,
                "{} peaks at {peak:.2} dBFS",
                s.name
            );
        }
        let sum_peak = peak_dbfs(&plain_sum(song()));
        assert!(
            sum_peak <= CEILING_DBFS + 0.01,
            "the sum peaks at {sum_peak:.2} dBFS"
        );
        // At 48 kHz the stems fit without the safety scaling.
        assert!(
            sum_peak < CEILING_DBFS - 0.2,
            "the sum peaks at {sum_peak:.2} dBFS"
        );
    }

    #[test]
    fn the_imbalance_is_as_documented() {
        let documented = [
            ("kick", -26.0),
            ("snare", -27.0),
            ("hats", -21.0),
            ("bass", -22.0),
            ("pad", -30.0),
            ("lead", -33.0),
        ];
        let measured: Vec<(&str, f64)> =
            song().iter().map(|s| (s.name, lufs_of(&s.audio))).collect();
        let level = |name: &str| {
            measured
                .iter()
                .find(|(n, _)| *n == name)
                .expect("stem exists")
                .1
        };
        for (name, expected) in documented {
            assert!(
                (level(name) - expected).abs() < 0.5,
                "{name}: {:.2} LUFS, documented {expected}",
                level(name)
            );
        }
        assert_imbalance(level);
    }

    #[test]
    fn kick_energy_sits_below_150_hz() {
        let spectrum = third_octave_spectrum(&mid(&stem("kick").audio), RATE);
        let power = |keep: &dyn Fn(f64) -> bool| -> f64 {
            spectrum
                .bands
                .iter()
                .filter(|b| keep(b.center_hz))
                .filter_map(|b| b.level_db)
                .map(|db| 10f64.powf(db / 10.0))
                .sum()
        };
        let share = power(&|hz| hz < 150.0) / power(&|_| true);
        assert!(
            share > 0.9,
            "only {:.1} % of the kick's power lies below 150 Hz",
            100.0 * share
        );
    }

    #[test]
    fn hats_are_high_and_the_bass_is_low() {
        let centroid = |name: &str| {
            let spectrum = third_octave_spectrum(&mid(&stem(name).audio), RATE);
            let (weighted, total) = spectrum.bands.iter().fold((0.0, 0.0), |(w, t), b| {
                let p = b.level_db.map_or(0.0, |db| 10f64.powf(db / 10.0));
                (w + p * b.center_hz.log2(), t + p)
            });
            (weighted / total).exp2()
        };
        assert!(centroid("hats") > 7_000.0);
        assert!(centroid("bass") < 200.0);
        assert!(centroid("kick") < centroid("snare"));
    }

    #[test]
    fn stems_enter_as_arranged() {
        let frame = |seconds: f64| (seconds * f64::from(RATE)) as usize;
        let silent_until = |name: &str, seconds: f64| {
            stem(name)
                .audio
                .channels
                .iter()
                .all(|c| c[..frame(seconds)].iter().all(|&x| x == 0.0))
        };
        // Bar n (1-based) starts at 2(n − 1) s.
        let pad_intro = &stem("pad").audio.channels[0][..frame(2.0)];
        assert!(
            pad_intro.iter().any(|x| x.abs() > 0.01),
            "the pad opens the song"
        );
        assert!(silent_until("hats", 4.0) && silent_until("bass", 4.0));
        assert!(
            silent_until("snare", 7.5),
            "only the pickup precedes the verse"
        );
        assert!(silent_until("kick", 8.0) && silent_until("lead", 8.0));
        for name in ["hats", "bass", "snare", "kick", "lead"] {
            assert!(!silent_until(name, 9.0), "{name} never enters");
        }
    }

    #[test]
    fn placement_in_the_stereo_field() {
        let energy = |c: &[f32]| c.iter().map(|&x| f64::from(x) * f64::from(x)).sum::<f64>();
        let correlation = |a: &AudioBuffer| {
            let [l, r] = [&a.channels[0], &a.channels[1]];
            let lr: f64 = l
                .iter()
                .zip(r.iter())
                .map(|(&x, &y)| f64::from(x) * f64::from(y))
                .sum();
            lr / (energy(l) * energy(r)).sqrt()
        };
        for name in ["kick", "snare", "bass", "lead"] {
            let channels = &stem(name).audio.channels;
            assert_eq!(channels[0], channels[1], "{name} should be centred");
        }
        let hats = &stem("hats").audio;
        let tilt_db = 10.0 * (energy(&hats.channels[1]) / energy(&hats.channels[0])).log10();
        assert!(
            (1.5..4.0).contains(&tilt_db),
            "hats lean {tilt_db:.2} dB right"
        );
        for name in ["hats", "pad"] {
            let c = correlation(&stem(name).audio);
            assert!((0.4..0.95).contains(&c), "{name}: correlation {c:.3}");
        }
    }

    #[test]
    fn other_rates_keep_length_ceiling_and_imbalance() {
        let stems = synthesize_demo_song(44_100);
        let frames = (DEMO_DURATION_S * 44_100.0).round() as usize;
        for s in &stems {
            assert_eq!(s.audio.sample_rate_hz, 44_100);
            assert_eq!(s.audio.frame_count(), frames);
            assert!(peak_dbfs(&s.audio) <= CEILING_DBFS + 0.01);
        }
        assert!(peak_dbfs(&plain_sum(&stems)) <= CEILING_DBFS + 0.01);
        let measured: Vec<(&str, f64)> =
            stems.iter().map(|s| (s.name, lufs_of(&s.audio))).collect();
        assert_imbalance(|name| {
            measured
                .iter()
                .find(|(n, _)| *n == name)
                .expect("stem exists")
                .1
        });
    }

    #[test]
    fn sine_approximation_is_accurate() {
        for i in 0..100_000 {
            let phase = f64::from(i) / 100_000.0;
            let error = (sin_cycles(phase) - (TAU * phase).sin()).abs();
            assert!(error < 1e-9, "phase {phase}: error {error:e}");
        }
    }

    #[test]
    fn poly_blep_saw_stays_bounded_and_zero_mean() {
        let mut osc = Oscillator::default();
        let dt = 1_234.5 / 48_000.0;
        let samples: Vec<f64> = (0..48_000).map(|_| osc.saw(dt)).collect();
        assert!(samples.iter().all(|x| x.abs() <= 1.0 + 1e-12));
        let mean = samples.iter().sum::<f64>() / samples.len() as f64;
        assert!(mean.abs() < 1e-3, "mean {mean}");
    }
}
