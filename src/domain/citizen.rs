//! What a case records about the citizen, parsed at the edge.

use chrono::NaiveDate;
use sha2::{Digest, Sha256};

use super::phone::mask_middle;

/// A resident identity card number (居民身份证号码, GB 11643), checked by its checksum.
#[derive(Clone, PartialEq, Eq)]
pub struct IdCardNumber(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidIdCard {
    #[error("an ID card number has 18 characters: 17 digits and a final digit or X")]
    Shape,
    #[error("the birth date inside the ID card number is not a real date")]
    BirthDate,
    #[error(
        "the ID card number's check digit does not match: please check it was typed correctly"
    )]
    Checksum,
}

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK_CHARS: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

impl IdCardNumber {
    pub fn parse(raw: &str) -> Result<Self, InvalidIdCard> {
        let normalized: String = raw
            .trim()
            .chars()
            .filter(|c| !c.is_whitespace())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let chars: Vec<char> = normalized.chars().collect();
        if chars.len() != 18
            || !chars[..17].iter().all(char::is_ascii_digit)
            || !(chars[17].is_ascii_digit() || chars[17] == 'X')
        {
            return Err(InvalidIdCard::Shape);
        }
        NaiveDate::parse_from_str(&normalized[6..14], "%Y%m%d")
            .map_err(|_| InvalidIdCard::BirthDate)?;
        let sum: u32 = chars[..17]
            .iter()
            .zip(WEIGHTS)
            .map(|(c, w)| c.to_digit(10).unwrap_or(0) * w)
            .sum();
        if CHECK_CHARS[(sum % 11) as usize] != chars[17] {
            return Err(InvalidIdCard::Checksum);
        }
        Ok(Self(normalized))
    }

    /// For display: two characters at each end, the region, birth date and sequence hidden
    /// (`21**************3X`).
    pub fn masked(&self) -> String {
        mask_middle(&self.0, 2, 2)
    }

    /// A keyed digest that finds a repeat visitor without storing the number itself:
    /// HMAC-SHA256 under `key` (the instance's, derived from its secret) over the salted hash
    /// the digests were before they were keyed, so that those are re-keyed in place
    /// ([`rekey_digest`]) and keep matching. Without the key, a copy of the database does not
    /// let anyone try the few billion possible numbers.
    pub fn digest(&self, pepper: &str, key: &[u8; 32]) -> String {
        let mut hasher = Sha256::new();
        hasher.update(pepper.as_bytes());
        hasher.update(b":");
        hasher.update(self.0.as_bytes());
        rekey_digest(key, &hex::encode(hasher.finalize()))
    }
}

/// The keyed digest of an ID card number from its unkeyed one (made before digests were
/// keyed).
pub fn rekey_digest(key: &[u8; 32], unkeyed: &str) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(unkeyed.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// A stored mask made when masks showed more (`210602********123X`), masked as masks are now.
pub fn remask(stored: &str) -> String {
    mask_middle(stored, 2, 2)
}

impl std::fmt::Debug for IdCardNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdCardNumber({})", self.masked())
    }
}

/// Checks a free-text field: trimmed, not empty, at most `max` characters, no control
/// characters other than line breaks and tabs. Returns the trimmed text.
pub fn plain_text(raw: &str, max: usize) -> Result<String, TextError> {
    let text = raw.trim();
    if text.is_empty() {
        return Err(TextError::Empty);
    }
    let count = text.chars().count();
    if count > max {
        return Err(TextError::TooLong { max, count });
    }
    if text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
    {
        return Err(TextError::ControlCharacters);
    }
    Ok(text.to_owned())
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("must not be empty")]
    Empty,
    #[error("is {count} characters long; at most {max} are allowed")]
    TooLong { max: usize, count: usize },
    #[error("contains invisible control characters")]
    ControlCharacters,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_valid_id_card_number_passes_and_is_shown_masked() {
        // A published sample number with a correct check digit.
        let id = IdCardNumber::parse("11010519491231002x").unwrap();
        assert_eq!(id.masked(), "11**************2X");
        assert!(!format!("{id:?}").contains("19491231"));
    }

    #[test]
    fn a_wrong_check_digit_is_refused() {
        assert_eq!(
            IdCardNumber::parse("110105194912310021"),
            Err(InvalidIdCard::Checksum)
        );
    }

    #[test]
    fn an_impossible_birth_date_is_refused() {
        assert_eq!(
            IdCardNumber::parse("110105194913310021"),
            Err(InvalidIdCard::BirthDate)
        );
    }

    #[test]
    fn short_or_lettered_numbers_are_refused_by_shape() {
        assert_eq!(
            IdCardNumber::parse("11010519491231"),
            Err(InvalidIdCard::Shape)
        );
        assert_eq!(
            IdCardNumber::parse("1101051949123100AX"),
            Err(InvalidIdCard::Shape)
        );
    }

    #[test]
    fn digests_are_keyed_and_old_ones_rekey_to_the_same() {
        let id = IdCardNumber::parse("11010519491231002X").unwrap();
        let (k1, k2) = ([1u8; 32], [2u8; 32]);
        assert_ne!(id.digest("p", &k1), id.digest("p", &k2), "keyed");
        assert_eq!(id.digest("p", &k1), id.digest("p", &k1));
        let unkeyed = hex::encode(Sha256::digest(b"p:11010519491231002X"));
        assert_eq!(rekey_digest(&k1, &unkeyed), id.digest("p", &k1));
    }

    #[test]
    fn masks_show_two_characters_at_each_end() {
        let id = IdCardNumber::parse("11010519491231002X").unwrap();
        assert_eq!(id.masked(), "11**************2X");
        assert_eq!(remask("110105********002X"), "11**************2X");
    }

    #[test]
    fn plain_text_is_trimmed_and_bounded() {
        assert_eq!(plain_text("  养老金  ", 10).unwrap(), "养老金");
        assert_eq!(plain_text("   ", 10), Err(TextError::Empty));
        assert_eq!(
            plain_text("工资工资工资", 5),
            Err(TextError::TooLong { max: 5, count: 6 })
        );
        assert_eq!(plain_text("a\u{0}b", 5), Err(TextError::ControlCharacters));
    }
}
