//! Chinese phone numbers: what a citizen types, what a PBX hands over as caller ID.
//!
//! Parsing uses libphonenumber's metadata (the `phonenumber` crate) with region CN. A bare
//! local number (7 digits in Dandong) has the configured area code put in front first.

use std::fmt;

use phonenumber::{country, Mode};
use serde::{Deserialize, Serialize};

/// How local numbers without an area code are completed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LocalDialing {
    /// The area code with its trunk prefix, e.g. `0415` for Dandong.
    pub area_code: String,
    /// The length of a local subscriber number in that area (7 in Dandong).
    pub local_length: usize,
}

impl Default for LocalDialing {
    fn default() -> Self {
        Self {
            area_code: "0415".into(),
            local_length: 7,
        }
    }
}

/// A valid phone number that can be called back, in E.164 with what was typed kept.
/// Its `Debug` output is masked: a stray `{:?}` in a log line leaks nothing.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PhoneNumber {
    e164: String,
    original: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a valid phone number")]
pub struct InvalidPhone(pub String);

/// Caller-ID words that mean "no number was sent".
const NO_NUMBER_WORDS: [&str; 7] = [
    "unknown",
    "anonymous",
    "private",
    "restricted",
    "unavailable",
    "withheld",
    "未知",
];

/// Extensions and service codes are at most this long; nobody can be called back on them.
const MAX_EXTENSION_DIGITS: usize = 5;

impl PhoneNumber {
    /// Parses a number typed by staff or a citizen, or given as caller ID.
    ///
    /// `Ok(None)` means "no callback number" (empty, `Unknown`, `anonymous`, a short
    /// extension); `Err` means digits were given but they are not a phone number.
    pub fn parse(raw: &str, dialing: &LocalDialing) -> Result<Option<Self>, InvalidPhone> {
        let original = raw.trim();
        let lowered = original.to_lowercase();
        if original.is_empty() || NO_NUMBER_WORDS.contains(&lowered.as_str()) {
            return Ok(None);
        }
        let compact = compact_digits(original).ok_or_else(|| InvalidPhone(original.into()))?;
        let digits = compact.trim_start_matches('+');
        if digits.len() <= MAX_EXTENSION_DIGITS {
            return Ok(None);
        }
        let with_area = if !compact.starts_with('+')
            && digits.len() == dialing.local_length
            && !digits.starts_with(['0', '1'])
        {
            format!("{}{}", dialing.area_code, digits)
        } else {
            compact.clone()
        };
        let parsed = phonenumber::parse(Some(country::Id::CN), &with_area)
            .map_err(|_| InvalidPhone(original.into()))?;
        if !parsed.is_valid() {
            return Err(InvalidPhone(original.into()));
        }
        let e164 = parsed.format().mode(Mode::E164).to_string();
        // The normalized form must be a valid number by itself too (found by fuzzing: the
        // library accepts `+46 011 310 202`, drops the trunk 0, and then rejects its own
        // `+4611310202`). Otherwise a stored number could not be searched for or dialled.
        let again = phonenumber::parse(Some(country::Id::CN), &e164)
            .map_err(|_| InvalidPhone(original.into()))?;
        if !again.is_valid() || again.format().mode(Mode::E164).to_string() != e164 {
            return Err(InvalidPhone(original.into()));
        }
        Ok(Some(Self {
            e164,
            original: original.into(),
        }))
    }

    /// Rebuilds a number read back from storage, already normalized.
    pub fn from_stored(e164: String, original: String) -> Self {
        Self { e164, original }
    }

    pub fn e164(&self) -> &str {
        &self.e164
    }

    pub fn original(&self) -> &str {
        &self.original
    }

    /// The number as staff read and dial it (see [`for_staff`]).
    pub fn for_staff(&self) -> String {
        for_staff(&self.e164)
    }

    /// The number with its middle hidden, for logs and lists: `+86138****8000`.
    pub fn masked(&self) -> String {
        mask_middle(&self.e164, 6, 4)
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

/// A stored number (E.164) the way staff read and dial it: a Chinese mobile as
/// `139 0415 1234`, a Chinese landline with its trunk 0 and area code as `0415-2123456` (or
/// `010-12345678`), anything else in international format. E.164 stays the stored form and
/// the `tel:` link.
pub fn for_staff(e164: &str) -> String {
    if let Some(national) = e164.strip_prefix("+86") {
        let digits = national.as_bytes();
        let all_digits = digits.iter().all(u8::is_ascii_digit);
        if all_digits && digits.len() == 11 && digits[0] == b'1' && digits[1] != b'0' {
            return format!("{} {} {}", &national[..3], &national[3..7], &national[7..]);
        }
        if all_digits && digits.len() >= 9 {
            // Beijing (10) and the 2x cities have two-digit area codes; the rest three.
            let area = match (digits[0], digits[1]) {
                (b'1', b'0') | (b'2', _) => 2,
                _ => 3,
            };
            return format!("0{}-{}", &national[..area], &national[area..]);
        }
    }
    match phonenumber::parse(None, e164) {
        Ok(number) => number.format().mode(Mode::International).to_string(),
        Err(_) => e164.to_owned(),
    }
}

/// A person's name for logs: the first character and stars (`张**`).
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => std::iter::once(first).chain(chars.map(|_| '*')).collect(),
        None => String::new(),
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.e164)
    }
}

/// Keeps digits and a leading `+`, folding full-width digits (`１３８…`, common in text typed
/// with a Chinese input method) and dropping separators. `None` if anything else is there.
fn compact_digits(raw: &str) -> Option<String> {
    let mut out = String::with_capacity(raw.len());
    for (i, c) in raw.chars().enumerate() {
        match c {
            '0'..='9' => out.push(c),
            '０'..='９' => out.push(char::from(b'0' + (c as u32 - '０' as u32) as u8)),
            '+' | '＋' if i == 0 => out.push('+'),
            ' ' | '-' | '(' | ')' | '.' | '　' | '－' | '（' | '）' => {}
            _ => return None,
        }
    }
    Some(out)
}

/// Replaces all but the first `keep_start` and last `keep_end` characters with `*`.
pub fn mask_middle(text: &str, keep_start: usize, keep_end: usize) -> String {
    let chars: Vec<char> = text.chars().collect();
    if chars.len() <= keep_start + keep_end {
        return "*".repeat(chars.len());
    }
    chars
        .iter()
        .enumerate()
        .map(|(i, c)| {
            if i < keep_start || i >= chars.len() - keep_end {
                *c
            } else {
                '*'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {

    #[test]
    fn staff_read_numbers_the_chinese_way() {
        assert_eq!(for_staff("+8613904151234"), "139 0415 1234");
        assert_eq!(for_staff("+864152123456"), "0415-2123456");
        assert_eq!(for_staff("+861012345678"), "010-12345678");
        assert_eq!(for_staff("+862187654321"), "021-87654321");
        assert_eq!(for_staff("+14155552671"), "+1 415-555-2671");
        assert_eq!(for_staff("not a number"), "not a number");
    }

    use super::*;

    #[test]
    fn a_number_whose_normal_form_is_not_valid_is_refused() {
        // From the phone fuzz target: valid as typed, its E.164 form not.
        let typed = "\u{ff0b}46 011 310 202";
        let parsed = PhoneNumber::parse(typed, &LocalDialing::default());
        assert!(parsed.is_err(), "{parsed:?}");
    }

    fn e164(raw: &str) -> Option<String> {
        PhoneNumber::parse(raw, &LocalDialing::default())
            .unwrap()
            .map(|p| p.e164().to_owned())
    }

    #[test]
    fn every_shape_of_one_mobile_number_is_the_same_number() {
        for raw in [
            "13800138000",
            "+86 138 0013 8000",
            "008613800138000",
            "013800138000",
            "8613800138000",
            "138-0013-8000",
            "１３８００１３８０００",
        ] {
            assert_eq!(e164(raw).as_deref(), Some("+8613800138000"), "{raw}");
        }
    }

    #[test]
    fn a_bare_seven_digit_number_is_a_dandong_landline() {
        assert_eq!(e164("3105883").as_deref(), Some("+864153105883"));
        assert_eq!(e164("0415-3105883").as_deref(), Some("+864153105883"));
        assert_eq!(e164("+86 415 310 5883").as_deref(), Some("+864153105883"));
    }

    #[test]
    fn the_area_code_is_configurable() {
        let beijing = LocalDialing {
            area_code: "010".into(),
            local_length: 8,
        };
        // 8 digits starting with 1 look like a truncated mobile: not completed, so invalid.
        assert!(PhoneNumber::parse("12345678", &beijing).is_err());
        let got = PhoneNumber::parse("62345678", &beijing).unwrap().unwrap();
        assert_eq!(got.e164(), "+861062345678");
    }

    #[test]
    fn no_number_words_and_extensions_mean_no_callback_number() {
        for raw in ["", "  ", "Unknown", "anonymous", "PRIVATE", "1002", "110"] {
            assert_eq!(e164(raw), None, "{raw:?}");
        }
    }

    #[test]
    fn garbage_is_an_error_not_a_missing_number() {
        for raw in [
            "abc123456",
            "12345678901",
            "138001380001234",
            "13800138000x",
        ] {
            assert!(
                PhoneNumber::parse(raw, &LocalDialing::default()).is_err(),
                "{raw}"
            );
        }
    }

    #[test]
    fn debug_output_is_masked() {
        let p = PhoneNumber::parse("13800138000", &LocalDialing::default())
            .unwrap()
            .unwrap();
        assert_eq!(format!("{p:?}"), "PhoneNumber(+86138****8000)");
        assert_eq!(mask_name("张三丰"), "张**");
    }

    #[test]
    fn the_original_is_kept_and_the_mask_hides_the_middle() {
        let p = PhoneNumber::parse(" 138 0013 8000 ", &LocalDialing::default())
            .unwrap()
            .unwrap();
        assert_eq!(p.original(), "138 0013 8000");
        assert_eq!(p.masked(), "+86138****8000");
    }
}
