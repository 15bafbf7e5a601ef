//! Reading and checking session files: the documented example is valid, and a file
//! with many mistakes reports every one of them with its line and path.

use mixdown_session::{
    bus_render_order, track_waves, validate, InstrumentClass, Problem, ProcessorSpec, SessionSource,
};

/// The example of docs/SESSION.md (kept identical by `docs_example_is_this_example`).
const EXAMPLE: &str = include_str!("../../../docs/session-example.toml");

fn problems_of(text: &str) -> Vec<Problem> {
    match SessionSource::parse(text) {
        Err(problems) => problems,
        Ok(source) => source.locate(validate(&source.session, None)),
    }
}

fn rendered(problems: &[Problem]) -> Vec<String> {
    problems.iter().map(ToString::to_string).collect()
}

#[test]
fn the_documented_example_is_valid_and_round_trips() {
    let source = SessionSource::parse(EXAMPLE).expect("example parses");
    let session = &source.session;
    assert_eq!(rendered(&validate(session, None)), Vec::<String>::new());
    assert_eq!(session.tracks.len(), 5);
    assert_eq!(session.buses.len(), 3);
    assert_eq!(session.tracks[0].class, Some(InstrumentClass::Kick));
    assert!(matches!(
        &session.tracks[1].chain[1],
        ProcessorSpec::Compressor(c) if c.sidechain.as_deref() == Some("Kick")
    ));
    // Written back by mixdown (as automix does) and read again: the same session.
    let written = session.to_toml();
    let again = SessionSource::parse(&written).expect("written session parses");
    assert_eq!(&again.session, session, "{written}");
    // The drum bus renders before the master, the kick before the bass it ducks.
    let order = bus_render_order(session).unwrap();
    assert_eq!(order.len(), 3);
    let waves = track_waves(session).unwrap();
    assert_eq!(waves[0].first(), Some(&0));
    assert!(waves[1].contains(&1), "{waves:?}");
}

#[test]
fn every_problem_is_listed_with_its_line_and_path() {
    let text = r#"version = 1
sample_rate = 48000

[mix]
pan_law_db = -2.0

[[track]]
name = "Kick"
file = "kick.wav"
colour = "red"

[[track]]
name = "Bass"
file = "bass.wav"
output = "drums"
pan = 1.5
chain = [
  { type = "highpass", freq = 40.0, slope_db_per_oct = 12 },
  { type = "lowpass", freq = 30000.0, slope_db_per_oct = 10 },
]

[[track]]
name = "Vox"
file = "vox.wav"
gain_db = "loud"

[[bus]]
name = "verb"
sends = [ { bus = "nowhere", level_db = -6.0 } ]
"#;
    let problems = problems_of(text);
    let lines = rendered(&problems);
    // Structural problems come first and stop the semantic checks: both are listed.
    assert_eq!(problems.len(), 2, "{lines:#?}");
    assert_eq!(problems[0].path, "track[0].colour");
    assert_eq!(problems[0].line, Some(10), "{lines:#?}");
    assert!(problems[0].message.contains("unknown field"), "{lines:#?}");
    assert_eq!(problems[1].path, "track[2].gain_db");
    assert_eq!(problems[1].line, Some(25), "{lines:#?}");

    // With the structure fixed, every semantic problem appears at once.
    let fixed = text
        .replace("colour = \"red\"\n", "")
        .replace("gain_db = \"loud\"", "gain_db = -3.0");
    let problems = problems_of(&fixed);
    let lines = rendered(&problems);
    let expect = [
        ("mix.pan_law_db", 5, "not a pan law"),
        ("track[1].output", 14, "no bus named \"drums\""),
        ("track[1].pan", 15, "1.5 is outside -1…1"),
        (
            "track[1].chain[1].freq",
            18,
            "30000 Hz is above Nyquist (24000 Hz)",
        ),
        (
            "track[1].chain[1].slope_db_per_oct",
            18,
            "10 dB/oct is not available",
        ),
        ("bus[0].sends[0].bus", 28, "no bus named \"nowhere\""),
    ];
    assert_eq!(problems.len(), expect.len(), "{lines:#?}");
    for (problem, (path, line, message)) in problems.iter().zip(expect) {
        assert_eq!(problem.path, path, "{lines:#?}");
        assert_eq!(problem.line, Some(line), "{lines:#?}");
        assert!(problem.message.contains(message), "{lines:#?}");
    }
    let shown = problems[3]
        .clone()
        .in_file("song.toml".as_ref())
        .to_string();
    assert_eq!(
        shown,
        "song.toml:18: track[1].chain[1].freq: 30000 Hz is above Nyquist (24000 Hz)"
    );
}

#[test]
fn routing_and_sidechain_cycles_name_the_loop() {
    let routing = r#"version = 1
[[track]]
name = "a"
file = "a.wav"
output = "x"
[[bus]]
name = "x"
output = "y"
[[bus]]
name = "y"
sends = [ { bus = "x" } ]
"#;
    let problems = problems_of(routing);
    assert_eq!(problems.len(), 1, "{:#?}", rendered(&problems));
    assert_eq!(problems[0].message, "routing cycle: x → y → x");
    assert_eq!(problems[0].line, Some(6));

    let sidechain = r#"version = 1
[[track]]
name = "kick"
file = "k.wav"
chain = [ { type = "compressor", threshold_db = -20.0, ratio = 4.0, attack_ms = 1.0, release_ms = 80.0, sidechain = "bass" } ]
[[track]]
name = "bass"
file = "b.wav"
chain = [ { type = "compressor", threshold_db = -20.0, ratio = 4.0, attack_ms = 1.0, release_ms = 80.0, sidechain = "kick" } ]
"#;
    let problems = problems_of(sidechain);
    assert_eq!(problems.len(), 1, "{:#?}", rendered(&problems));
    assert!(
        problems[0].message == "sidechain cycle: kick → bass → kick"
            || problems[0].message == "sidechain cycle: bass → kick → bass",
        "{}",
        problems[0]
    );
}

#[test]
fn malformed_toml_and_missing_pieces_are_one_clear_line_each() {
    let problems = problems_of("version = 1\n[[track]\nname = 3\n");
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].line, Some(2));
    assert!(
        problems[0].message.starts_with("not valid TOML"),
        "{}",
        problems[0]
    );

    // Serde stops at the first problem inside one table; other tables are still read.
    let problems = problems_of("[[track]]\nname = \"a\"\ntempo = 3\n[[track]]\nname = \"b\"\n");
    let lines = rendered(&problems);
    assert_eq!(problems.len(), 3, "{lines:#?}");
    assert_eq!(problems[0].path, "version");
    assert_eq!(lines[1], "line 3: track[0].tempo: unknown field `tempo`, expected one of `name`, `file`, `class`, `gain_db`, `pan`, `width`, `mute`, `solo`, `invert_polarity`, `delay_ms`, `delay_samples`, `start_s`, `fade_in_ms`, `fade_out_ms`, `automation`, `output`, `chain`, `sends`");
    assert!(
        lines[2].starts_with("line 4: track[1]: missing field `file`"),
        "{lines:#?}"
    );

    let problems = problems_of("version = 2\nloudness = 3\n");
    assert_eq!(problems.len(), 1, "{:#?}", rendered(&problems));
    assert_eq!(problems[0].path, "loudness");
    let problems = problems_of("version = 2\n");
    assert!(
        problems[0].message.contains("not supported"),
        "{}",
        problems[0]
    );
}

#[test]
fn delays_need_a_time_or_a_note_with_a_tempo() {
    let base = |delay: &str, mix: &str| {
        format!(
            "version = 1\n{mix}\n[[bus]]\nname = \"echo\"\nchain = [ {{ type = \"delay\", {delay} }} ]\n"
        )
    };
    assert!(problems_of(&base("time_ms = 250.0", "")).is_empty());
    assert!(problems_of(&base("note = \"1/8.\"", "[mix]\ntempo_bpm = 120.0")).is_empty());
    let missing_tempo = problems_of(&base("note = \"1/8\"", ""));
    assert!(
        missing_tempo[0].message.contains("needs a tempo"),
        "{}",
        missing_tempo[0]
    );
    let bad_note = problems_of(&base("note = \"eighth\", tempo_bpm = 90.0", ""));
    assert!(
        bad_note[0].message.contains("not a note value"),
        "{}",
        bad_note[0]
    );
    let both = problems_of(&base(
        "note = \"1/4\", time_ms = 100.0, tempo_bpm = 90.0",
        "",
    ));
    assert_eq!(both[0].path, "bus[0].chain[0]");
    assert_eq!(both[0].line, Some(5));
}
