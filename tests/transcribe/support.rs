//! What the transcript tests and the transcript benchmark share: the recognizer's Python, and
//! speech to send it (espeak-ng, cut to 8 kHz 16-bit mono, as a telephone line carries it).

use std::path::PathBuf;

/// The recognizer's Python (a venv with `pocketsphinx`, see `.ci/run`).
pub fn python() -> PathBuf {
    std::env::var_os("YOUMEN_POCKETSPHINX_PYTHON").map_or_else(
        || {
            PathBuf::from(std::env::var("HOME").unwrap_or_default())
                .join(".cache/youmen-pocketsphinx/bin/python")
        },
        PathBuf::from,
    )
}

/// `text` spoken by espeak-ng, as 8 kHz 16-bit mono telephone audio.
pub fn speech(text: &str) -> Vec<u8> {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("say.wav");
    let status = std::process::Command::new("espeak-ng")
        .args(["-s", "140", "-w"])
        .arg(&out)
        .arg(text)
        .status()
        .expect("espeak-ng runs");
    assert!(status.success());
    let mut reader = hound::WavReader::open(&out).unwrap();
    let rate = reader.spec().sample_rate as f64;
    let samples: Vec<i16> = reader.samples::<i16>().map(Result::unwrap).collect();
    let n = (samples.len() as f64 * 8000.0 / rate) as usize;
    let mut bytes = std::io::Cursor::new(Vec::new());
    {
        let spec = hound::WavSpec {
            channels: 1,
            sample_rate: 8000,
            bits_per_sample: 16,
            sample_format: hound::SampleFormat::Int,
        };
        let mut w = hound::WavWriter::new(&mut bytes, spec).unwrap();
        for i in 0..n {
            // Linear interpolation between the neighbouring samples.
            let x = i as f64 * rate / 8000.0;
            let (a, f) = (x.floor() as usize, x.fract());
            let s0 = samples[a.min(samples.len() - 1)] as f64;
            let s1 = samples[(a + 1).min(samples.len() - 1)] as f64;
            w.write_sample((s0 + (s1 - s0) * f) as i16).unwrap();
        }
        w.finalize().unwrap();
    }
    bytes.into_inner()
}
