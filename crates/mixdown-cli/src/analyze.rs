//! `mixdown analyze FILE... [--json]`.

use crate::failure::Failure;
use crate::table;
use mixdown_analysis::{Analyzer, Metrics};
use mixdown_engine::report::AnalysisRecord;
use rayon::prelude::*;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Frames handed to the analyzer at once.
const ANALYSIS_BLOCK_FRAMES: usize = 65_536;

/// Streams the file through the analyzer: memory stays bounded whatever its length.
fn decode_and_analyze(path: &Path) -> Result<Metrics, Failure> {
    let mut reader = mixdown_io::AudioReader::open(path)?;
    let mut analyzer = Analyzer::new(reader.channel_count(), reader.sample_rate_hz())?;
    // Packets are small (a few thousand frames); the analyzer splits its work across
    // cores per block, which pays off on larger blocks.
    let mut pending: Vec<Vec<f32>> =
        vec![Vec::with_capacity(ANALYSIS_BLOCK_FRAMES); reader.channel_count()];
    while let Some(channels) = reader.next_block()? {
        for (p, c) in pending.iter_mut().zip(channels) {
            p.extend_from_slice(c);
        }
        if pending[0].len() >= ANALYSIS_BLOCK_FRAMES {
            analyzer.add(&pending.iter().map(Vec::as_slice).collect::<Vec<_>>())?;
            pending.iter_mut().for_each(Vec::clear);
        }
    }
    analyzer.add(&pending.iter().map(Vec::as_slice).collect::<Vec<_>>())?;
    Ok(analyzer.finish())
}

/// Analyzes every file (in parallel, reported in the order given); a file that
/// fails is reported on its own stderr line and the others still go through.
pub fn run(files: &[PathBuf], json: bool) -> Result<(), Failure> {
    let results: Vec<Result<Metrics, Failure>> =
        files.par_iter().map(|f| decode_and_analyze(f)).collect();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let mut failures = 0;
    for (file, result) in files.iter().zip(results) {
        match result {
            Ok(metrics) => {
                let text = if json {
                    AnalysisRecord::new(file, &metrics).to_json_line() + "\n"
                } else {
                    table::metrics_table(&file.display().to_string(), &metrics)
                };
                if out.write_all(text.as_bytes()).is_err() {
                    // stdout closed (e.g. piped into `head`): nothing left to tell.
                    return Ok(());
                }
            }
            Err(failure) => {
                failures += 1;
                // Flush what came before so stdout and stderr stay in file order.
                let _ = out.flush();
                failure.report();
            }
        }
    }
    let _ = out.flush();
    if failures > 0 {
        Err(Failure::already_reported())
    } else {
        Ok(())
    }
}
