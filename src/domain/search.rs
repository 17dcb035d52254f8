//! Finding cases by any two or more characters of a name, a phone number or the text of a
//! description. Chinese has no spaces between words, and full-text engines index neither
//! two-character words (养老, 工资) nor, with some locales, CJK at all: so youmen indexes
//! character bigrams itself, the same way on both engines. A search for "养老金" looks up
//! the cases holding both 养老 and 老金, then checks the exact substring on those few.

use std::collections::BTreeSet;

/// The text as indexed and searched: lower case, without whitespace.
pub fn normalize(text: &str) -> String {
    text.chars()
        .filter(|c| !c.is_whitespace() && !c.is_control())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Every pair of neighbouring characters, once.
pub fn grams(text: &str) -> BTreeSet<String> {
    let chars: Vec<char> = normalize(text).chars().collect();
    chars
        .windows(2)
        .map(|w| w.iter().collect::<String>())
        .collect()
}

/// The text of a case that search covers.
pub fn indexed_text(name: Option<&str>, phone_original: Option<&str>, description: &str) -> String {
    format!(
        "{}\n{}\n{}",
        name.unwrap_or(""),
        phone_original.unwrap_or(""),
        description
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_character_words_are_grams() {
        let g = grams("养老金 资格认证");
        assert!(g.contains("养老") && g.contains("老金") && g.contains("金资"));
        assert_eq!(grams("工资"), BTreeSet::from(["工资".to_owned()]));
        assert!(grams("养").is_empty());
    }

    #[test]
    fn case_and_spacing_do_not_matter() {
        assert_eq!(grams("ABC d"), grams("abcd"));
        assert_eq!(normalize(" 138 0013\t8000 "), "13800138000");
    }
}
