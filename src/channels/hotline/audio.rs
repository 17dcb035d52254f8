//! Probing a voicemail recording with hound: format, rate, channels, duration, loudness.
//! Pure over bytes; callers run it off the async runtime (`spawn_blocking`).

use std::io::Cursor;

/// Below these a recording is "essentially silence": a hang-up, not a message.
const SILENCE_RMS: f64 = 0.003;
const SILENCE_PEAK: f64 = 0.02;

#[derive(Debug, Clone, PartialEq)]
pub struct AudioProbe {
    pub sample_rate: u32,
    pub channels: u16,
    pub bits_per_sample: u16,
    pub duration_ms: u64,
    /// Root mean square of the samples, 0.0 to 1.0 of full scale.
    pub rms: f64,
    /// Largest absolute sample, 0.0 to 1.0 of full scale.
    pub peak: f64,
}

impl AudioProbe {
    pub fn is_silent(&self) -> bool {
        self.duration_ms == 0 || (self.rms < SILENCE_RMS && self.peak < SILENCE_PEAK)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AudioError {
    #[error("the file is empty (0 bytes)")]
    Empty,
    #[error("the WAV header sizes are zero: the recording is still in progress or was cut off")]
    InProgress,
    #[error("the WAV file is truncated: the header promises {declared} bytes of audio, {present} are there")]
    Truncated { declared: u64, present: u64 },
    #[error("codec {0} is not supported: set format=wav in voicemail.conf so Asterisk also writes 16-bit PCM")]
    UnsupportedCodec(String),
    #[error("not a WAV file: {0}")]
    NotWav(String),
}

fn codec_name(tag: u16) -> String {
    match tag {
        0x0006 => "A-law (format tag 6)".into(),
        0x0007 => "μ-law (format tag 7)".into(),
        0x0031 => "GSM 6.10 (wav49, format tag 49)".into(),
        0x0055 => "MP3 (format tag 85)".into(),
        other => format!("with WAVE format tag {other}"),
    }
}

fn le_u32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

fn le_u16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_le_bytes([s[0], s[1]]))
}

/// Walks the RIFF chunks for the format tag, the data chunk's declared and present sizes,
/// and where the data starts.
fn inspect_chunks(bytes: &[u8]) -> Result<(u16, u64, u64, usize), AudioError> {
    if bytes.len() < 12 || &bytes[0..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        return Err(AudioError::NotWav("no RIFF/WAVE header".into()));
    }
    if le_u32(bytes, 4) == Some(0) {
        return Err(AudioError::InProgress);
    }
    let mut at = 12;
    let mut tag = None;
    while at + 8 <= bytes.len() {
        let id = &bytes[at..at + 4];
        let size = le_u32(bytes, at + 4).unwrap_or(0) as u64;
        let body = at + 8;
        if id == b"fmt " {
            tag = le_u16(bytes, body);
        } else if id == b"data" {
            let present = (bytes.len() - body) as u64;
            return match tag {
                None => Err(AudioError::NotWav(
                    "the data chunk comes before any fmt chunk".into(),
                )),
                Some(_) if size == 0 && present > 0 => Err(AudioError::InProgress),
                Some(tag) => Ok((tag, size, present, body)),
            };
        }
        at = body + size as usize + (size as usize & 1);
    }
    Err(AudioError::NotWav("no data chunk".into()))
}

pub fn probe_wav(bytes: &[u8]) -> Result<AudioProbe, AudioError> {
    if bytes.is_empty() {
        return Err(AudioError::Empty);
    }
    let (tag, declared, present, data_start) = inspect_chunks(bytes)?;
    // 1 = PCM, 0xFFFE = WAVE_FORMAT_EXTENSIBLE (hound checks the sub-format itself).
    if tag != 1 && tag != 0xFFFE {
        return Err(AudioError::UnsupportedCodec(codec_name(tag)));
    }
    if present < declared {
        return Err(AudioError::Truncated { declared, present });
    }
    let reader = hound::WavReader::new(Cursor::new(bytes)).map_err(|e| match e {
        hound::Error::Unsupported => AudioError::UnsupportedCodec(codec_name(tag)),
        other => AudioError::NotWav(other.to_string()),
    })?;
    let spec = reader.spec();
    if spec.sample_format != hound::SampleFormat::Int {
        return Err(AudioError::UnsupportedCodec("32-bit float PCM".into()));
    }
    let full_scale = f64::from(1u32 << (spec.bits_per_sample.clamp(2, 32) - 1));
    let frames = u64::from(reader.duration());
    let (sum_sq, peak, count) = if spec.bits_per_sample == 16 {
        // The common case (Asterisk's `wav`): straight over the little-endian data bytes,
        // far faster than sample by sample through the decoder.
        let data = &bytes[data_start..data_start + declared as usize];
        loudness_i16(data, full_scale)
    } else {
        let (mut sum_sq, mut peak, mut count) = (0.0f64, 0.0f64, 0u64);
        for sample in reader.into_samples::<i32>() {
            let s = sample.map_err(|e| AudioError::NotWav(e.to_string()))? as f64 / full_scale;
            sum_sq += s * s;
            peak = peak.max(s.abs());
            count += 1;
        }
        (sum_sq, peak, count)
    };
    Ok(AudioProbe {
        sample_rate: spec.sample_rate,
        channels: spec.channels,
        bits_per_sample: spec.bits_per_sample,
        duration_ms: frames * 1000 / u64::from(spec.sample_rate.max(1)),
        rms: if count == 0 {
            0.0
        } else {
            (sum_sq / count as f64).sqrt()
        },
        peak,
    })
}

/// Sum of squares, peak (both scaled to full scale) and count of 16-bit LE samples.
fn loudness_i16(data: &[u8], full_scale: f64) -> (f64, f64, u64) {
    let mut sum_sq: u64 = 0;
    let mut peak: u32 = 0;
    for pair in data.chunks_exact(2) {
        let s = i16::from_le_bytes([pair[0], pair[1]]);
        let magnitude = s.unsigned_abs() as u32;
        sum_sq += u64::from(magnitude * magnitude);
        peak = peak.max(magnitude);
    }
    let count = (data.len() / 2) as u64;
    (
        sum_sq as f64 / (full_scale * full_scale),
        f64::from(peak) / full_scale,
        count,
    )
}

#[cfg(test)]
pub mod tests {
    use super::*;

    /// A real WAV file in memory: a tone of `amplitude` (0..1), or silence at 0.
    pub fn wav(sample_rate: u32, channels: u16, seconds: f64, amplitude: f64) -> Vec<u8> {
        let spec = hound::WavSpec {
            channels,
            sample_rate,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut out = Cursor::new(Vec::new());
        let mut w = hound::WavWriter::new(&mut out, spec).unwrap();
        let n = (seconds * f64::from(sample_rate)) as u32;
        for i in 0..n {
            let t = f64::from(i) / f64::from(sample_rate);
            let v = (amplitude * 32767.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16;
            for _ in 0..channels {
                w.write_sample(v).unwrap();
            }
        }
        w.finalize().unwrap();
        out.into_inner()
    }

    #[test]
    fn a_tone_is_probed_with_its_format_duration_and_loudness() {
        let p = probe_wav(&wav(8000, 1, 2.5, 0.5)).unwrap();
        assert_eq!(
            (p.sample_rate, p.channels, p.bits_per_sample, p.duration_ms),
            (8000, 1, 16, 2500)
        );
        assert!((p.rms - 0.5 / 2f64.sqrt()).abs() < 0.01, "{}", p.rms);
        assert!(p.peak > 0.49);
        assert!(!p.is_silent());
    }

    #[test]
    fn stereo_16_khz_is_accepted() {
        let p = probe_wav(&wav(16000, 2, 1.0, 0.3)).unwrap();
        assert_eq!((p.sample_rate, p.channels, p.duration_ms), (16000, 2, 1000));
    }

    #[test]
    fn silence_is_recognised() {
        assert!(probe_wav(&wav(8000, 1, 3.0, 0.0)).unwrap().is_silent());
        assert!(probe_wav(&wav(8000, 1, 3.0, 0.001)).unwrap().is_silent());
    }

    #[test]
    fn broken_files_are_refused_with_a_reason() {
        assert_eq!(probe_wav(&[]), Err(AudioError::Empty));
        let good = wav(8000, 1, 1.0, 0.5);
        let truncated = &good[..good.len() / 2];
        assert!(matches!(
            probe_wav(truncated),
            Err(AudioError::Truncated { .. })
        ));
        let mut in_progress = good.clone();
        in_progress[4..8].copy_from_slice(&[0, 0, 0, 0]);
        in_progress[40..44].copy_from_slice(&[0, 0, 0, 0]);
        assert_eq!(probe_wav(&in_progress), Err(AudioError::InProgress));
        let mut gsm = good.clone();
        gsm[20..22].copy_from_slice(&49u16.to_le_bytes());
        let err = probe_wav(&gsm).unwrap_err();
        assert!(err.to_string().contains("GSM 6.10 (wav49"), "{err}");
        assert!(matches!(
            probe_wav(b"hello, not audio"),
            Err(AudioError::NotWav(_))
        ));
    }
}
