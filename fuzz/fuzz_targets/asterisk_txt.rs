//! Asterisk `app_voicemail` `msgNNNN.txt` metadata: arbitrary bytes (UTF-8 or GB18030).
#![no_main]

use libfuzzer_sys::fuzz_target;
use youmen::channels::hotline::asterisk_message::{decode_text, parse_callerid, parse_message};

fuzz_target!(|data: &[u8]| {
    if let Ok(meta) = parse_message(data) {
        // The masked Debug impl (mask_middle / mask_name) runs on the parsed caller too.
        let _ = format!("{meta:?}");
        assert!(meta.received_at.timestamp() > 0);
    }
    // The caller-ID grammar on its own, over whatever text the bytes decode to.
    let text = decode_text(data);
    let caller = parse_callerid(&text);
    let _ = format!("{caller:?}");
});
