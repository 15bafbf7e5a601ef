//! What a stem is: from its file name first (engineers' abbreviations included),
//! from its sound when the name says nothing: spectrum shares, onset rate, and
//! voicing and pitch (YIN, see `mixdown_analysis::pitch`).

use mixdown_analysis::StemFeatures;
use mixdown_session::InstrumentClass;
use serde::Serialize;

/// Where a classification came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassSource {
    /// A word of the file name.
    Name,
    /// The stem's spectrum, onsets, voicing and pitch.
    Audio,
    /// Neither said anything: mixed as `other`.
    Fallback,
}

/// A stem's class and how sure automix is of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Classification {
    /// The class.
    pub class: InstrumentClass,
    /// 0…1.
    pub confidence: f64,
    /// Where it came from.
    pub source: ClassSource,
    /// The measurements that decided (empty for a name), e.g.
    /// `low-end share 0.92, 3.9 onsets/s, voiced 0.81 at 62 Hz, active 0.91`.
    pub evidence: String,
}

/// Name words and what they mean, most specific first: the first word of a name
/// found here decides (`bassdrum` is a kick, `bass` a bass).
const NAME_WORDS: &[(&str, InstrumentClass)] = {
    use InstrumentClass::*;
    &[
        ("kick", Kick),
        ("kck", Kick),
        ("kik", Kick),
        ("bd", Kick),
        ("bassdrum", Kick),
        ("snare", Snare),
        ("snr", Snare),
        ("sn", Snare),
        ("sd", Snare),
        ("rim", Snare),
        ("hihat", Hats),
        ("hh", Hats),
        ("hat", Hats),
        ("hats", Hats),
        ("oh", Cymbals),
        ("overhead", Cymbals),
        ("overheads", Cymbals),
        ("cymbal", Cymbals),
        ("cymbals", Cymbals),
        ("crash", Cymbals),
        ("ride", Cymbals),
        ("tom", Toms),
        ("toms", Toms),
        ("perc", Percussion),
        ("percussion", Percussion),
        ("shaker", Percussion),
        ("tamb", Percussion),
        ("tambourine", Percussion),
        ("conga", Percussion),
        ("congas", Percussion),
        ("bongo", Percussion),
        ("clap", Percussion),
        ("claps", Percussion),
        ("drums", Drums),
        ("drum", Drums),
        ("kit", Drums),
        ("bgv", BackingVocal),
        ("bgvs", BackingVocal),
        ("bv", BackingVocal),
        ("bvs", BackingVocal),
        ("bvox", BackingVocal),
        ("choir", BackingVocal),
        ("harmony", BackingVocal),
        ("harmonies", BackingVocal),
        ("vox", LeadVocal),
        ("voc", LeadVocal),
        ("vocal", LeadVocal),
        ("vocals", LeadVocal),
        ("lv", LeadVocal),
        ("voice", LeadVocal),
        ("bass", Bass),
        ("bs", Bass),
        ("sub", Bass),
        ("808", Bass),
        ("gtr", Guitar),
        ("guitar", Guitar),
        ("guitars", Guitar),
        ("gt", Guitar),
        ("eg", Guitar),
        ("ag", Guitar),
        ("pno", Piano),
        ("piano", Piano),
        ("keys", Keys),
        ("key", Keys),
        ("rhodes", Keys),
        ("wurli", Keys),
        ("organ", Keys),
        ("ep", Keys),
        ("clav", Keys),
        ("pad", Pads),
        ("pads", Pads),
        ("str", Strings),
        ("strings", Strings),
        ("violin", Strings),
        ("viola", Strings),
        ("cello", Strings),
        ("brass", Brass),
        ("horn", Brass),
        ("horns", Brass),
        ("trumpet", Brass),
        ("trombone", Brass),
        ("sax", Brass),
        ("syn", LeadSynth),
        ("synth", LeadSynth),
        ("lead", LeadSynth),
        ("arp", LeadSynth),
        ("fx", Fx),
        ("sfx", Fx),
        ("riser", Fx),
        ("impact", Fx),
        ("sweep", Fx),
        ("noise", Fx),
    ]
};

/// Two-word names that mean something else than their words.
const NAME_PAIRS: &[(&str, &str, InstrumentClass)] = {
    use InstrumentClass::*;
    &[
        ("bass", "drum", Kick),
        ("electric", "piano", Keys),
        ("lead", "vocal", LeadVocal),
        ("lead", "vox", LeadVocal),
        ("backing", "vocal", BackingVocal),
        ("backing", "vocals", BackingVocal),
        ("backing", "vox", BackingVocal),
    ]
};

/// The lower-case words of a file stem: split at anything not a letter or digit and
/// between letters and digits (`Gtr2` → `gtr`, `2`).
pub fn name_words(name: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut last_digit = None;
    for c in name.chars() {
        if !c.is_alphanumeric() {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            last_digit = None;
            continue;
        }
        let digit = c.is_ascii_digit();
        if last_digit.is_some_and(|d| d != digit) && !word.is_empty() {
            words.push(std::mem::take(&mut word));
        }
        word.extend(c.to_lowercase());
        last_digit = Some(digit);
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

/// The class a file name gives, if any.
pub fn class_from_name(name: &str) -> Option<InstrumentClass> {
    let words = name_words(name);
    for pair in words.windows(2) {
        if let Some(&(_, _, class)) = NAME_PAIRS
            .iter()
            .find(|(a, b, _)| pair[0] == *a && pair[1] == *b)
        {
            return Some(class);
        }
    }
    // `808` only names a bass on its own; a digit word elsewhere is a take number.
    words.iter().find_map(|w| {
        NAME_WORDS
            .iter()
            .find(|(word, _)| w == word)
            .map(|&(_, c)| c)
    })
}

/// Onsets per second above which a stem is percussive (drums, plucked notes).
const PERCUSSIVE_ONSETS_HZ: f64 = 1.5;
/// A stem is voiced when at least this share of its pitch frames is periodic: a
/// voice, a bass line, a lead (also a held chord, at the root its notes share: which
/// is why the rules below also ask for low end, a melody or a pitch range).
const VOICED_FRACTION: f64 = 0.5;
/// A stem is unvoiced (noise: hats, shakers, cymbals) below this share.
const UNVOICED_FRACTION: f64 = 0.2;
/// A voiced part whose median pitch is below this is a bass line, Hz (A2; a bass
/// guitar's open strings are 41–98 Hz).
const BASS_PITCH_MAX_HZ: f64 = 110.0;
/// A voiced, moving part with its median pitch in this range is a lead line, Hz (from
/// a low male voice's A2 to a soprano's top, C6).
const LEAD_PITCH_HZ: std::ops::RangeInclusive<f64> = 110.0..=1_050.0;
/// A part whose pitch spreads over at least this many semitones (10th to 90th
/// percentile) plays a melody rather than a drone or a held note.
const MELODY_RANGE_SEMITONES: f64 = 3.0;
/// Spectral centroid above which an unvoiced percussive stem is hats or shakers, Hz.
const BRIGHT_CENTROID_HZ: f64 = 3_500.0;

/// The class a stem's sound suggests, first rule that holds:
///
/// 1. low end (share below 150 Hz > 0.5), percussive, voiced and playing most of the
///    time (active > 0.6): a bass line (a kick is silent between its hits);
/// 2. low end > 0.6 and percussive: kick;
/// 3. low end > 0.5: bass;
/// 4. voiced with a median pitch under 110 Hz and some low end (> 0.25): bass;
/// 5. top end (share above 5 kHz) > 0.5: hats when percussive, else cymbals (more
///    sure when unvoiced);
/// 6. unvoiced, percussive and bright (centroid > 3.5 kHz): hats;
/// 7. voiced, median pitch 110–1050 Hz and a melody (pitch spread ≥ 3 semitones):
///    the lead, mixed as a lead vocal (a lead instrument takes the same place);
/// 8. percussive: snare when mid-range and sparse, else percussion;
/// 9. sustained (active > 0.8) and dark (centroid < 1.5 kHz): pads;
/// 10. anything else: `other`.
pub fn class_from_audio(features: &StemFeatures) -> Classification {
    use InstrumentClass::*;
    let Some(centroid_hz) = features.centroid_hz else {
        return Classification {
            class: Other,
            confidence: 0.0,
            source: ClassSource::Fallback,
            evidence: "silent".into(),
        };
    };
    let f = features;
    let percussive = f.onset_rate_hz > PERCUSSIVE_ONSETS_HZ;
    let voiced = f.voiced_fraction >= VOICED_FRACTION;
    let unvoiced = f.voiced_fraction < UNVOICED_FRACTION;
    let pitch_hz = f.median_pitch_hz.filter(|_| voiced);
    let melody = voiced
        && f.pitch_range_semitones
            .is_some_and(|range| range >= MELODY_RANGE_SEMITONES);
    // The evidence, in the words of the report.
    let low = format!("low-end share {:.2}", f.low_share);
    let top = format!("top-end share {:.2}", f.top_share);
    let onsets = format!("{:.1} onsets/s", f.onset_rate_hz);
    let centroid = format!("centroid {centroid_hz:.0} Hz");
    let active = format!("active {:.2}", f.active_fraction);
    let voicing = match (f.median_pitch_hz, f.pitch_range_semitones) {
        (Some(pitch), Some(range)) => format!(
            "voiced {:.2}, median pitch {pitch:.0} Hz over {range:.1} semitones",
            f.voiced_fraction
        ),
        _ => format!("voiced {:.2}", f.voiced_fraction),
    };
    let audio = |class, confidence, evidence: &[&str]| Classification {
        class,
        confidence,
        source: ClassSource::Audio,
        evidence: evidence.join(", "),
    };
    match () {
        _ if f.low_share > 0.5 && percussive && voiced && f.active_fraction > 0.6 => {
            audio(Bass, 0.6, &[&low, &onsets, &voicing, &active])
        }
        _ if f.low_share > 0.6 && percussive => audio(Kick, 0.6, &[&low, &onsets, &voicing]),
        _ if f.low_share > 0.5 => audio(Bass, 0.6, &[&low, &voicing]),
        _ if pitch_hz.is_some_and(|p| p < BASS_PITCH_MAX_HZ) && f.low_share > 0.25 => {
            audio(Bass, 0.5, &[&voicing, &low])
        }
        _ if f.top_share > 0.5 && percussive => audio(
            Hats,
            if unvoiced { 0.7 } else { 0.6 },
            &[&top, &onsets, &voicing],
        ),
        _ if f.top_share > 0.5 => {
            audio(Cymbals, if unvoiced { 0.5 } else { 0.4 }, &[&top, &voicing])
        }
        _ if percussive && unvoiced && centroid_hz > BRIGHT_CENTROID_HZ => {
            audio(Hats, 0.5, &[&voicing, &onsets, &centroid])
        }
        _ if melody && pitch_hz.is_some_and(|p| LEAD_PITCH_HZ.contains(&p)) => {
            audio(LeadVocal, 0.4, &[&voicing])
        }
        _ if percussive && centroid_hz < 3_000.0 && f.active_fraction < 0.6 => {
            audio(Snare, 0.4, &[&onsets, &centroid, &active, &voicing])
        }
        _ if percussive => audio(Percussion, 0.4, &[&onsets, &voicing]),
        _ if centroid_hz < 1_500.0 && f.active_fraction > 0.8 => {
            audio(Pads, 0.3, &[&centroid, &active, &voicing])
        }
        _ => Classification {
            class: Other,
            confidence: 0.2,
            source: ClassSource::Fallback,
            evidence: [centroid, onsets, voicing].join(", "),
        },
    }
}

/// Classifies a stem: by name when the name says, else by sound.
pub fn classify(name: &str, features: &StemFeatures) -> Classification {
    match class_from_name(name) {
        Some(class) => Classification {
            class,
            confidence: 0.9,
            source: ClassSource::Name,
            evidence: String::new(),
        },
        None => class_from_audio(features),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mixdown_analysis::StemAnalyzer;
    use mixdown_dsp::dither::NoiseSource;
    use std::f64::consts::TAU;
    use InstrumentClass::*;

    const RATE: u32 = 44_100;

    fn analyse(signal: &[f32]) -> StemFeatures {
        let mut analyzer = StemAnalyzer::new(1, RATE).unwrap();
        for block in signal.chunks(4096) {
            analyzer.add(&[block]).unwrap();
        }
        analyzer.finish()
    }

    /// Notes of `note_s` each with 1/k harmonics up to 4 kHz, pitch `pitch_hz(t)`,
    /// shaped by `envelope(time into the note)`.
    fn notes(
        seconds: f64,
        note_s: f64,
        pitch_hz: impl Fn(f64) -> f64,
        envelope: impl Fn(f64) -> f64,
    ) -> Vec<f32> {
        let mut phase = 0.0;
        (0..(seconds * f64::from(RATE)) as usize)
            .map(|i| {
                let t = i as f64 / f64::from(RATE);
                let f0 = pitch_hz(t);
                let x: f64 = (1..=60)
                    .take_while(|&k| f64::from(k) * f0 < 4_000.0)
                    .map(|k| (f64::from(k) * phase).sin() / f64::from(k))
                    .sum();
                phase = (phase + TAU * f0 / f64::from(RATE)) % (TAU * 1_000.0);
                (0.2 * x * envelope(t % note_s)) as f32
            })
            .collect()
    }

    #[test]
    fn the_sound_names_a_plucked_bass_a_kick_hats_a_lead_and_a_pad() {
        // Plucked bass: a note every 0.25 s (A1, E2, G2, D2), decaying but never silent.
        let line = [55.0, 82.41, 98.0, 73.42];
        let bass = analyse(&notes(
            8.0,
            0.25,
            |t| line[(t / 0.25) as usize % 4],
            |t| 0.3 + 0.7 * (-t / 0.08).exp(),
        ));
        let bass_class = class_from_audio(&bass);
        assert_eq!(bass_class.class, Bass, "{bass_class:?}");
        assert!(bass_class.evidence.contains("voiced"), "{bass_class:?}");
        // The same line as before voicing was measured would have read as a kick.
        assert!(bass.onset_rate_hz > PERCUSSIVE_ONSETS_HZ && bass.low_share > 0.6);

        // Kick: 100 ms of a pitch falling from 120 to 50 Hz, twice a second.
        let kick: Vec<f32> = (0..8 * RATE as usize)
            .map(|i| {
                let t = (i % (RATE as usize / 2)) as f64 / f64::from(RATE);
                if t > 0.1 {
                    return 0.0;
                }
                let phase = TAU * (50.0 * t + 70.0 * 0.03 * (1.0 - (-t / 0.03).exp()));
                (0.8 * phase.sin() * (-t / 0.05).exp()) as f32
            })
            .collect();
        assert_eq!(class_from_audio(&analyse(&kick)).class, Kick);

        // Hats: 30 ms noise bursts, eight a second.
        let mut noise = NoiseSource::new(11);
        let hats: Vec<f32> = (0..8 * RATE as usize)
            .map(|i| {
                let t = (i % (RATE as usize / 8)) as f64 / f64::from(RATE);
                let x = noise.next_uniform() * 0.5;
                (x * if t < 0.03 { (-t / 0.01).exp() } else { 0.0 }) as f32
            })
            .collect();
        let hats = class_from_audio(&analyse(&hats));
        assert_eq!(hats.class, Hats, "{hats:?}");
        assert!(hats.evidence.contains("voiced 0.0"), "{hats:?}");

        // Lead: a legato melody around A3–A4 with 5.5 Hz vibrato of ±0.3 semitones.
        let melody = [220.0, 246.9, 277.2, 329.6, 370.0, 440.0, 329.6, 277.2];
        let lead = class_from_audio(&analyse(&notes(
            8.0,
            0.5,
            |t| melody[(t / 0.5) as usize % 8] * 2f64.powf(0.3 / 12.0 * (TAU * 5.5 * t).sin()),
            |_| 1.0,
        )));
        assert_eq!(lead.class, LeadVocal, "{lead:?}");
        assert!(lead.evidence.contains("median pitch"), "{lead:?}");

        // Pad: an equal-tempered C major triad (C4 E4 G4), held.
        let pad: Vec<f32> = [261.63, 329.63, 392.0]
            .iter()
            .map(|&f| notes(8.0, 8.0, |_| f, |_| 1.0))
            .reduce(|a, b| a.iter().zip(&b).map(|(x, y)| x + y).collect())
            .unwrap();
        let pad = class_from_audio(&analyse(&pad));
        assert_eq!(pad.class, Pads, "{pad:?}");
    }

    #[test]
    fn names_and_abbreviations() {
        for (name, class) in [
            ("Kick In", Kick),
            ("kck_01", Kick),
            ("BD", Kick),
            ("bass drum", Kick),
            ("kick-hard", Kick),
            ("Snare Top", Snare),
            ("sn", Snare),
            ("snare-acoustic", Snare),
            ("HH", Hats),
            ("hihat-closed", Hats),
            ("OH L", Cymbals),
            ("tom-low", Toms),
            ("Lead Vox", LeadVocal),
            ("vox_main", LeadVocal),
            ("BGV 2", BackingVocal),
            ("backing vocals", BackingVocal),
            ("slap-bass", Bass),
            ("acoustic-bass", Bass),
            ("Gtr2", Guitar),
            ("jazz-guitar-2", Guitar),
            ("electric-piano-1", Keys),
            ("Pno", Piano),
            ("Str Ens", Strings),
            ("lead-synth", LeadSynth),
            ("Pad wide", Pads),
            ("FX riser", Fx),
            ("drums", Drums),
        ] {
            assert_eq!(class_from_name(name), Some(class), "{name}");
        }
        assert_eq!(class_from_name("track 07"), None);
        // A "backing" track may be anything: the sound decides.
        assert_eq!(class_from_name("backing"), None);
        assert_eq!(name_words("Gtr2-DI"), ["gtr", "2", "di"]);
    }
}
