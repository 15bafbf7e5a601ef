//! What a stem is: from its file name first (engineers' abbreviations included),
//! from its sound when the name says nothing.

use mixdown_analysis::StemFeatures;
use mixdown_session::InstrumentClass;
use serde::Serialize;

/// Where a classification came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassSource {
    /// A word of the file name.
    Name,
    /// The stem's spectrum and onsets.
    Audio,
    /// Neither said anything: mixed as `other`.
    Fallback,
}

/// A stem's class and how sure automix is of it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Classification {
    /// The class.
    pub class: InstrumentClass,
    /// 0…1.
    pub confidence: f64,
    /// Where it came from.
    pub source: ClassSource,
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

/// The class a stem's sound suggests: the low-end share and onset rate separate kick,
/// bass, hats, percussion and sustained parts; anything unclear is `other`.
pub fn class_from_audio(features: &StemFeatures) -> Classification {
    use InstrumentClass::*;
    let audio = |class, confidence| Classification {
        class,
        confidence,
        source: ClassSource::Audio,
    };
    let Some(centroid_hz) = features.centroid_hz else {
        return Classification {
            class: Other,
            confidence: 0.0,
            source: ClassSource::Fallback,
        };
    };
    let percussive = features.onset_rate_hz > 1.5;
    match () {
        _ if features.low_share > 0.6 && percussive => audio(Kick, 0.6),
        _ if features.low_share > 0.5 => audio(Bass, 0.6),
        _ if features.top_share > 0.5 && percussive => audio(Hats, 0.6),
        _ if features.top_share > 0.5 => audio(Cymbals, 0.4),
        _ if percussive && centroid_hz < 3_000.0 && features.active_fraction < 0.6 => {
            audio(Snare, 0.4)
        }
        _ if percussive => audio(Percussion, 0.4),
        _ if centroid_hz < 1_500.0 && features.active_fraction > 0.8 => audio(Pads, 0.3),
        _ => Classification {
            class: Other,
            confidence: 0.2,
            source: ClassSource::Fallback,
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
        },
        None => class_from_audio(features),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use InstrumentClass::*;

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
