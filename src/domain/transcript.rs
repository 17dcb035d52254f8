//! What a machine transcript of a voicemail may say, and what it changes. Pure: which
//! recordings are worth sending (not silence, not a breath), which answers are a
//! transcript at all (not a page of binary, not a novel), the first line the lists show,
//! and the description a voicemail case carries while no person has written one.

/// Recordings shorter than this are not sent (recognizers invent words on a breath).
pub const MIN_DURATION_MS: i64 = 1000;

/// The longest transcript kept; a longer "text" is no transcript of a voicemail.
pub const MAX_CHARS: usize = 20_000;

/// Whether a recording is worth sending.
pub fn worth_sending(duration_ms: i64, silent: bool) -> bool {
    !silent && duration_ms >= MIN_DURATION_MS
}

/// What the recognizer heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// Words (control characters dropped, whitespace tidied).
    Text(String),
    /// Nothing: shown as such, never as if it said something.
    Nothing,
}

/// Reads a recognizer's `text`; `Err` with the reason when it is no transcript.
pub fn check(text: &str) -> Result<Heard, String> {
    let count = text.chars().count();
    if count > MAX_CHARS {
        return Err(format!(
            "the transcript is {count} characters long (at most {MAX_CHARS})"
        ));
    }
    // A stray replacement character (a multi-byte token split by the recognizer) or control
    // character is dropped; many of them are binary data, not speech.
    let odd = text
        .chars()
        .filter(|c| *c == '\u{0}' || *c == '\u{FFFD}' || (c.is_control() && !c.is_whitespace()))
        .count();
    if odd >= 3 && odd * 20 > count.max(1) {
        return Err(format!(
            "the transcript looks like binary data ({odd} of {count} characters are not text)"
        ));
    }
    let tidy = text
        .chars()
        .filter(|c| (!c.is_control() || *c == '\n') && *c != '\u{FFFD}')
        .collect::<String>()
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n");
    Ok(match tidy.is_empty() {
        true => Heard::Nothing,
        false => Heard::Text(tidy),
    })
}

/// The first line, at most `chars` characters (with an ellipsis when cut).
pub fn first_line(text: &str, chars: usize) -> String {
    let line = text.lines().next().unwrap_or("").trim();
    match line.chars().count() > chars {
        true => line.chars().take(chars).collect::<String>() + "…",
        false => line.to_owned(),
    }
}

/// The description of a voicemail case that no person has written: the one intake gives
/// (`电话留言（录音N秒），请收听录音后回电`) or one this module made.
pub fn is_machine_description(description: &str) -> bool {
    description.starts_with(MACHINE_PREFIX)
        || (description.starts_with("电话留言（录音") && description.ends_with("请收听录音后回电"))
}

const MACHINE_PREFIX: &str = "电话留言（机器转写，请以录音为准）：";

/// The description made from the case's transcripts (in the order of their recordings),
/// at most `max_chars`; None when none of them heard anything.
pub fn machine_description(transcripts: &[&str], max_chars: usize) -> Option<String> {
    let said: Vec<&str> = transcripts
        .iter()
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .collect();
    if said.is_empty() {
        return None;
    }
    let text = format!("{MACHINE_PREFIX}{}", said.join("；"));
    Some(match text.chars().count() > max_chars {
        true => {
            text.chars()
                .take(max_chars.saturating_sub(1))
                .collect::<String>()
                + "…"
        }
        false => text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn breaths_and_silence_are_not_sent() {
        assert!(!worth_sending(900, false));
        assert!(!worth_sending(5000, true));
        assert!(worth_sending(1000, false));
    }

    #[test]
    fn an_answer_is_a_transcript_or_says_why_not() {
        assert_eq!(
            check("  hello \t world \n\n"),
            Ok(Heard::Text("hello world".into()))
        );
        assert_eq!(check(" \n "), Ok(Heard::Nothing));
        assert!(check(&"养".repeat(MAX_CHARS + 1))
            .unwrap_err()
            .contains("long"));
        assert!(check("\u{0}\u{1}\u{2}ab").unwrap_err().contains("binary"));
        assert_eq!(
            check("我想问\u{7}养老金"),
            Ok(Heard::Text("我想问养老金".into()))
        );
        assert_eq!(check("养老\u{FFFD}金"), Ok(Heard::Text("养老金".into())));
    }

    #[test]
    fn the_lists_show_the_first_line() {
        assert_eq!(first_line("我想问养老金\n第二句", 20), "我想问养老金");
        assert_eq!(first_line("一二三四五六", 3), "一二三…");
    }

    #[test]
    fn a_machine_description_replaces_only_a_machine_one() {
        assert!(is_machine_description(
            "电话留言（录音11秒），请收听录音后回电"
        ));
        let made = machine_description(&["我想问养老金", "", "谢谢"], 500).unwrap();
        assert_eq!(
            made,
            "电话留言（机器转写，请以录音为准）：我想问养老金；谢谢"
        );
        assert!(is_machine_description(&made));
        assert!(!is_machine_description("刘女士来电反映养老金认证问题"));
        assert_eq!(machine_description(&["", " "], 500), None);
        assert_eq!(
            machine_description(&["一二三四五六七八九十"], 20)
                .unwrap()
                .chars()
                .count(),
            20
        );
    }
}
