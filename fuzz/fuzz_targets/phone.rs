//! Phone number normalization: arbitrary UTF-8 strings, as typed or sent as caller ID.
#![no_main]

use libfuzzer_sys::fuzz_target;
use youmen::domain::phone::{mask_middle, mask_name, LocalDialing, PhoneNumber};
use youmen::domain::registration::parse_phone;

fuzz_target!(|raw: &str| {
    let dandong = LocalDialing::default();
    let beijing = LocalDialing {
        area_code: "010".into(),
        local_length: 8,
    };
    for dialing in [&dandong, &beijing] {
        if let Ok(Some(p)) = PhoneNumber::parse(raw, dialing) {
            assert!(p.e164().starts_with('+'));
            let _ = p.masked();
            let _ = format!("{p:?} {p}");
            // A normalized number parses again to itself.
            let again = PhoneNumber::parse(p.e164(), dialing);
            assert!(
                matches!(&again, Ok(Some(q)) if q.e164() == p.e164()),
                "{} did not re-parse to itself: {again:?}",
                p.e164()
            );
        }
        let _ = parse_phone("phone", raw, dialing);
    }
    let _ = mask_middle(raw, 3, 2);
    let _ = mask_name(raw);
});
