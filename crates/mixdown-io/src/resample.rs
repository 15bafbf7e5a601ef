//! Sample-rate conversion with rubato's band-limited sinc interpolator.

use crate::IoError;
use mixdown_dsp::AudioBuffer;
use rubato::{
    calculate_cutoff, Resampler, SincFixedIn, SincInterpolationParameters, SincInterpolationType,
    WindowFunction,
};

/// Input frames handed to rubato per call; large chunks amortise its bookkeeping.
const CHUNK_FRAMES: usize = 8192;

/// Converts `audio` to `target_rate_hz`, keeping its length in seconds
/// (`ceil(frames · ratio)` frames) and its timing (no added delay).
///
/// A 256-tap Blackman-Harris² sinc with cubic interpolation between 256
/// precomputed phases keeps the passband flat to about 0.92 · Nyquist and the
/// residual of a 44.1 → 48 → 44.1 kHz round trip below −90 dB (see the tests).
pub fn resample(audio: &AudioBuffer, target_rate_hz: u32) -> Result<AudioBuffer, IoError> {
    if audio.sample_rate_hz == target_rate_hz {
        return Ok(audio.clone());
    }
    if !(1_000..=768_000).contains(&target_rate_hz) {
        return Err(IoError::InvalidRequest(format!(
            "sample rate {target_rate_hz} Hz is outside 1000-768000 Hz"
        )));
    }
    let channel_count = audio.channel_count();
    let ratio = f64::from(target_rate_hz) / f64::from(audio.sample_rate_hz);
    let sinc_len = 256;
    let window = WindowFunction::BlackmanHarris2;
    let parameters = SincInterpolationParameters {
        sinc_len,
        f_cutoff: calculate_cutoff(sinc_len, window),
        interpolation: SincInterpolationType::Cubic,
        oversampling_factor: 256,
        window,
    };
    let mut resampler =
        SincFixedIn::<f32>::new(ratio, 1.0, parameters, CHUNK_FRAMES, channel_count)
            .map_err(|e| IoError::InvalidRequest(format!("cannot resample: {e}")))?;

    let input_frames = audio.frame_count();
    let wanted_frames = (input_frames as f64 * ratio).ceil() as usize;
    let mut output: Vec<Vec<f32>> =
        vec![Vec::with_capacity(wanted_frames + CHUNK_FRAMES); channel_count];
    let mut scratch = vec![vec![0.0f32; resampler.output_frames_max()]; channel_count];
    let mut position = 0;
    let failed =
        |e: rubato::ResampleError| IoError::InvalidRequest(format!("resampling failed: {e}"));

    // Full chunks, then the partial tail, then silence until the output is complete.
    // rubato's sinc interpolator is centred on the output instant, so its output is
    // already time-aligned with the input (checked by `impulse_keeps_its_time`).
    while output[0].len() < wanted_frames {
        let take = resampler
            .input_frames_next()
            .min(input_frames.saturating_sub(position));
        let input: Vec<&[f32]> = audio
            .channels
            .iter()
            .map(|c| &c[position..position + take])
            .collect();
        let (_, produced) = if take == resampler.input_frames_next() {
            resampler
                .process_into_buffer(&input, &mut scratch, None)
                .map_err(failed)?
        } else if take > 0 {
            resampler
                .process_partial_into_buffer(Some(&input), &mut scratch, None)
                .map_err(failed)?
        } else {
            resampler
                .process_partial_into_buffer(None::<&[&[f32]]>, &mut scratch, None)
                .map_err(failed)?
        };
        position += take;
        for (out, chunk) in output.iter_mut().zip(&scratch) {
            out.extend_from_slice(&chunk[..produced]);
        }
    }
    for channel in &mut output {
        channel.truncate(wanted_frames);
    }
    Ok(AudioBuffer::from_channels(target_rate_hz, output))
}

#[cfg(test)]
mod tests {
    use super::*;
    use mixdown_dsp::units::{gain_to_db, power_to_db};
    use std::f64::consts::TAU;

    fn sine(freq_hz: f64, amplitude: f64, rate: u32, seconds: f64) -> AudioBuffer {
        let n = (f64::from(rate) * seconds) as usize;
        let samples = (0..n)
            .map(|i| (amplitude * (TAU * freq_hz * i as f64 / f64::from(rate)).sin()) as f32)
            .collect();
        AudioBuffer::from_channels(rate, vec![samples])
    }

    /// Least-squares fit of a sine at `freq_hz` to the middle of `signal`; returns
    /// (amplitude of the fit, power of the residual) — the residual is THD+N.
    fn fit_sine(signal: &[f32], freq_hz: f64, rate: u32) -> (f64, f64) {
        let range = signal.len() / 4..signal.len() * 3 / 4;
        let (mut ss, mut sc, mut cc, mut xs, mut xc) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for n in range.clone() {
            let (s, c) = (TAU * freq_hz * n as f64 / f64::from(rate)).sin_cos();
            let x = f64::from(signal[n]);
            ss += s * s;
            sc += s * c;
            cc += c * c;
            xs += x * s;
            xc += x * c;
        }
        let det = ss * cc - sc * sc;
        let a = (xs * cc - xc * sc) / det;
        let b = (xc * ss - xs * sc) / det;
        let mut residual = 0.0;
        for n in range.clone() {
            let (s, c) = (TAU * freq_hz * n as f64 / f64::from(rate)).sin_cos();
            let e = f64::from(signal[n]) - (a * s + b * c);
            residual += e * e;
        }
        (a.hypot(b), residual / range.len() as f64)
    }

    #[test]
    fn round_trip_44k1_48k_keeps_level_and_purity() {
        let original = sine(1_000.0, 0.5, 44_100, 3.0);
        let up = resample(&original, 48_000).unwrap();
        assert_eq!(up.frame_count(), 144_000);
        let back = resample(&up, 44_100).unwrap();
        assert_eq!(back.frame_count(), original.frame_count());
        let (amplitude, residual_power) = fit_sine(&back.channels[0], 1_000.0, 44_100);
        let level_change_db = gain_to_db(amplitude / 0.5);
        let thd_n_db = power_to_db(residual_power / (amplitude * amplitude / 2.0));
        assert!(
            level_change_db.abs() < 0.01,
            "level changed by {level_change_db} dB"
        );
        assert!(thd_n_db < -90.0, "THD+N {thd_n_db} dB");
        // Timing is preserved: the round trip nulls against the original to −50 dB,
        // i.e. any residual time offset is below 0.02 samples (ω·Δt ≤ 10^(−50/20)).
        let direct: f64 = back.channels[0][30_000..30_100]
            .iter()
            .zip(&original.channels[0][30_000..30_100])
            .map(|(a, b)| f64::from(a - b).powi(2))
            .sum::<f64>()
            / 100.0;
        let null_db = power_to_db(direct / 0.125);
        assert!(
            null_db < -50.0,
            "round trip is misaligned: null only {null_db} dB"
        );
    }

    fn loudest_frame(signal: &[f32]) -> usize {
        (0..signal.len())
            .max_by(|&a, &b| signal[a].abs().total_cmp(&signal[b].abs()))
            .unwrap()
    }

    #[test]
    fn impulse_keeps_its_time() {
        let mut click = vec![0.0f32; 44_100];
        click[20_000] = 1.0;
        let original = AudioBuffer::from_channels(44_100, vec![click]);
        let up = resample(&original, 48_000).unwrap();
        let expected = 20_000.0 * 48_000.0 / 44_100.0;
        assert!((loudest_frame(&up.channels[0]) as f64 - expected).abs() <= 1.0);
        let back = resample(&up, 44_100).unwrap();
        assert_eq!(loudest_frame(&back.channels[0]), 20_000);
    }

    #[test]
    fn same_rate_is_identity_and_bad_rate_is_an_error() {
        let original = sine(440.0, 0.3, 48_000, 0.1);
        assert_eq!(resample(&original, 48_000).unwrap(), original);
        assert!(resample(&original, 10).is_err());
    }
}
