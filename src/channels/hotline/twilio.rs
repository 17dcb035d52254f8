//! Twilio-style recording callbacks (Twilio and the look-alikes SignalWire, Telnyx,
//! Exotel): the request signature, and what a callback means for the queue.

use base64::Engine;
use hmac::{Hmac, Mac};
use sha1::Sha1;

type HmacSha1 = Hmac<Sha1>;

/// The data a signature covers: the full URL, then every POST parameter as name and value,
/// sorted by name.
fn signed_data(url: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort();
    let mut data = url.to_owned();
    for (name, value) in sorted {
        data.push_str(name);
        data.push_str(value);
    }
    data
}

/// `X-Twilio-Signature`: base64 of HMAC-SHA1 keyed with the auth token.
pub fn signature(auth_token: &str, url: &str, params: &[(String, String)]) -> String {
    let mut mac =
        HmacSha1::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(signed_data(url, params).as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Checks a signature in constant time.
pub fn verify(auth_token: &str, url: &str, params: &[(String, String)], given: &str) -> bool {
    let Ok(given) = base64::engine::general_purpose::STANDARD.decode(given.trim()) else {
        return false;
    };
    let mut mac =
        HmacSha1::new_from_slice(auth_token.as_bytes()).expect("HMAC takes any key length");
    mac.update(signed_data(url, params).as_bytes());
    mac.verify_slice(&given).is_ok()
}

/// Where to fetch a recording as WAV: the callback's `RecordingUrl` plus `.wav`.
pub fn wav_url(recording_url: &str) -> String {
    let trimmed = recording_url.trim();
    if trimmed.to_ascii_lowercase().ends_with(".wav") {
        trimmed.to_owned()
    } else {
        format!("{trimmed}.wav")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, value: &str) -> (String, String) {
        (name.to_owned(), value.to_owned())
    }

    #[test]
    fn twilios_documented_vector_holds() {
        let params = vec![
            p("To", "+18005551212"),
            p("CallSid", "CA1234567890ABCDE"),
            p("Caller", "+12349013030"),
            p("Digits", "1234"),
            p("From", "+12349013030"),
        ];
        let url = "https://mycompany.com/myapp.php?foo=1&bar=2";
        assert_eq!(
            signature("12345", url, &params),
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        );
        assert!(verify(
            "12345",
            url,
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(!verify(
            "12346",
            url,
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(!verify(
            "12345",
            "https://mycompany.com/myapp.php",
            &params,
            "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
        ));
        assert!(!verify("12345", url, &params, "not base64!"));
    }

    #[test]
    fn recording_urls_get_the_wav_extension_once() {
        assert_eq!(
            wav_url("https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1"),
            "https://api.twilio.com/2010-04-01/Accounts/AC1/Recordings/RE1.wav"
        );
        assert_eq!(
            wav_url("http://127.0.0.1:9/r/RE1.wav"),
            "http://127.0.0.1:9/r/RE1.wav"
        );
    }
}
