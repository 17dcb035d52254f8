//! WAV probing of voicemail recordings: arbitrary bytes through `probe_wav`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use youmen::channels::hotline::audio::probe_wav;

fuzz_target!(|data: &[u8]| {
    if let Ok(probe) = probe_wav(data) {
        let _ = probe.is_silent();
        assert!(probe.rms.is_finite() && probe.peak.is_finite());
    }
});
