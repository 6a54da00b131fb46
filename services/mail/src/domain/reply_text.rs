//! The words a person added to a reply: the mail's text without the quoted history and the
//! signature. The rule is to drop only what certainly is history and keep every unquoted line a
//! person wrote, wherever it stands — above the quote (top-posting), below it (bottom-posting) or
//! between quoted lines (interleaved answers). Cutting at the first attribution line once stored
//! about one reply in four empty.
//!
//! What is history: lines quoted with `>`; an attribution line ("On … wrote:", "Am … schrieb:",
//! "Le … a écrit :", "El … escribió:", "Op … schreef:", also wrapped over two lines as Gmail does)
//! only when a quote follows it; an "Original Message" marker or an Outlook header block (From /
//! Sent / To / Subject, in the common client languages), which Outlook puts above an unquoted
//! history running to the end. The signature starts at the standard `-- ` delimiter (or `--`
//! alone) and runs to the end. A line of underscores is only a separator, and "Sent from my
//! iPhone" lines stay: a few kept words cost nothing, lost words cannot be recovered. If nothing
//! is left, the whole text is the answer — a stored message is never empty when the mail had text.

/// The verbs of attribution lines, lowercased, in the languages help desks commonly receive; an
/// attribution line contains one and ends with a colon ("Am … schrieb Ann <ann@example.org>:").
const ATTRIBUTION_VERBS: &[&str] =
    &["wrote", "writes", "schrieb", "a écrit", "escribió", "schreef", "ha scritto", "escreveu", "skrev", "napisał"];

/// Field names of an Outlook header block: (from, sent, to, subject) per language.
const OUTLOOK_FIELDS: &[[&str; 4]] = &[
    ["from:", "sent:", "to:", "subject:"],
    ["from:", "date:", "to:", "subject:"],
    ["von:", "gesendet:", "an:", "betreff:"],
    ["de :", "envoyé :", "à :", "objet :"],
    ["de:", "envoyé:", "à:", "objet:"],
    ["de:", "enviado:", "para:", "asunto:"],
    ["van:", "verzonden:", "aan:", "onderwerp:"],
];

/// Lines that open a block of unquoted history, lowercased and trimmed of dashes.
const ORIGINAL_MESSAGE: &[&str] = &["original message", "ursprüngliche nachricht", "original-nachricht", "message d'origine", "mensaje original", "oorspronkelijk bericht"];

pub fn strip_reply(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut kept: Vec<&str> = Vec::new();
    // A dropped block between kept lines leaves one blank line, so interleaved answers stay apart.
    let mut gap = false;
    let mut i = 0;
    while i < lines.len() {
        let line = lines[i];
        let trimmed = line.trim();
        if is_signature_delimiter(line) || history_runs_from(&lines[i..]) {
            break;
        }
        if is_quoted(trimmed) {
            gap = true;
            i += 1;
            continue;
        }
        if let Some(len) = attribution_len(&lines[i..])
            && next_content(&lines[i + len..]).is_some_and(|next| is_quoted(next) || history_runs_from_line(&lines[i + len..]))
        {
            gap = true;
            i += len;
            continue;
        }
        if gap && !trimmed.is_empty() && kept.last().is_some_and(|l| !l.trim().is_empty()) {
            kept.push("");
        }
        gap = gap && trimmed.is_empty();
        kept.push(line);
        i += 1;
    }
    let stripped = collapse_blank_lines(&kept);
    if stripped.is_empty() { text.trim().to_string() } else { stripped }
}

fn is_quoted(trimmed: &str) -> bool {
    trimmed.starts_with('>')
}

fn is_signature_delimiter(line: &str) -> bool {
    line == "-- " || line.trim_end() == "--"
}

/// The number of lines (1 or 2) of an attribution line starting `lines`.
fn attribution_len(lines: &[&str]) -> Option<usize> {
    let ends = |line: &str| {
        let line = line.trim().to_lowercase();
        line.len() <= 300
            && line.ends_with(':')
            && ATTRIBUTION_VERBS.iter().any(|verb| line.starts_with(verb) || line.contains(&format!(" {verb}")))
    };
    let first = lines.first()?;
    if first.trim().is_empty() || is_quoted(first.trim()) {
        return None;
    }
    if ends(first) {
        return Some(1);
    }
    // Gmail wraps long attributions anywhere: "On Tue, … Ann <ann@example.org>" / "wrote:", or
    // "Am … schrieb Ann <" / "ann@example.org>:".
    let second = lines.get(1)?.trim();
    let joined = format!("{} {second}", first.trim());
    (!second.is_empty() && !is_quoted(second) && second.len() <= 80 && ends(&joined)).then_some(2)
}

fn next_content<'a>(lines: &[&'a str]) -> Option<&'a str> {
    lines.iter().map(|l| l.trim()).find(|l| !l.is_empty())
}

/// Whether an unquoted history block (an "Original Message" marker or an Outlook header block,
/// maybe under a line of underscores) starts at the first line: it runs to the end of the mail.
fn history_runs_from(lines: &[&str]) -> bool {
    let Some(first) = lines.first().map(|l| l.trim()) else { return false };
    if first.len() >= 10 && first.chars().all(|c| c == '_') {
        return is_outlook_block(&lines[1..]);
    }
    let marker = first.trim_matches(|c: char| c == '-' || c == ' ').to_lowercase();
    (first.starts_with("---") && ORIGINAL_MESSAGE.contains(&marker.as_str())) || is_outlook_block(lines)
}

/// Like [`history_runs_from`], after blank lines.
fn history_runs_from_line(lines: &[&str]) -> bool {
    let skip = lines.iter().take_while(|l| l.trim().is_empty()).count();
    history_runs_from(&lines[skip..])
}

/// "From: …" then, within the next lines, the sent/date field and the to or subject field of the
/// same language.
fn is_outlook_block(lines: &[&str]) -> bool {
    let head: Vec<String> = lines.iter().take(6).map(|l| l.trim().to_lowercase()).collect();
    let Some(first) = head.first() else { return false };
    OUTLOOK_FIELDS.iter().any(|[from, sent, to, subject]| {
        first.starts_with(from)
            && head[1..].iter().any(|l| l.starts_with(sent))
            && head[1..].iter().any(|l| l.starts_with(to) || l.starts_with(subject))
    })
}

fn collapse_blank_lines(lines: &[&str]) -> String {
    let mut out: Vec<&str> = Vec::with_capacity(lines.len());
    for line in lines {
        let blank = line.trim().is_empty();
        if blank && out.last().is_none_or(|l| l.trim().is_empty()) {
            continue;
        }
        out.push(if blank { "" } else { line.trim_end() });
    }
    while out.last().is_some_and(|l| l.is_empty()) {
        out.pop();
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_top_posted_reply_loses_the_attribution_and_the_quote() {
        assert_eq!(strip_reply("It is on fire.\n\nOn Mon, 1 Jan 2024, Support wrote:\n> Have you tried?\n"), "It is on fire.");
        assert_eq!(strip_reply("Ok\nOn Tue, Jan 2, 2024 at 10:00 AM Support <s@x>\nwrote:\n> old"), "Ok");
    }

    #[test]
    fn attributions_in_other_languages_are_recognised() {
        for attribution in [
            "Am 02.01.2024 um 10:00 schrieb Support <s@x>:",
            "Le mar. 2 janv. 2024 à 10:00, Support <s@x> a écrit :",
            "El mar, 2 ene 2024 a las 10:00, Support (<s@x>) escribió:",
            "Op di 2 jan. 2024 om 10:00 schreef Support <s@x>:",
        ] {
            assert_eq!(strip_reply(&format!("Danke.\n\n{attribution}\n\n> Alt\n")), "Danke.", "{attribution}");
        }
    }

    #[test]
    fn text_written_below_the_quote_is_kept() {
        let text = "On Tue, Jan 2, 2024, Ann wrote:\n> Is it fixed?\n\nYes, since this morning.\n";
        assert_eq!(strip_reply(text), "Yes, since this morning.");
    }

    #[test]
    fn interleaved_answers_are_all_kept_as_paragraphs() {
        let text = "Ann wrote:\n> Which printer?\nThe one on floor 2.\n> Since when?\nSince Monday.\n\n-- \nBob\n";
        assert_eq!(strip_reply(text), "The one on floor 2.\n\nSince Monday.");
    }

    #[test]
    fn an_attribution_without_a_quote_after_it_is_kept() {
        let text = "My colleague wrote:\nthe invoice is wrong.\nCan you check?";
        assert_eq!(strip_reply(text), text);
    }

    #[test]
    fn outlook_blocks_and_original_message_markers_end_the_text() {
        assert_eq!(strip_reply("Fixed now.\n-----Original Message-----\nFrom: x\nold text"), "Fixed now.");
        assert_eq!(strip_reply("Yes.\n\nFrom: Support\nSent: Monday\nTo: Ann\nSubject: Re: x\n\nold"), "Yes.");
        assert_eq!(strip_reply("Ja.\n\n________________________________\nVon: Support\nGesendet: Montag\nAn: Ann\nBetreff: x\n\nalt"), "Ja.");
        assert_eq!(strip_reply("Oui.\n\nDe : Support\nEnvoyé : lundi\nÀ : Ann\nObjet : x\n"), "Oui.");
    }

    #[test]
    fn a_line_of_underscores_is_a_separator_not_the_end() {
        let text = "Part one.\n________________________________\nPart two.";
        assert_eq!(strip_reply(text), text);
    }

    #[test]
    fn only_the_standard_delimiter_starts_a_signature() {
        assert_eq!(strip_reply("Thanks!\n\n-- \nAnn\nCEO"), "Thanks!");
        assert_eq!(strip_reply("Thanks!\n--\nAnn"), "Thanks!");
        assert_eq!(strip_reply("Thanks!\n---\nstill text\n\nSent from my iPhone"), "Thanks!\n---\nstill text\n\nSent from my iPhone");
    }

    #[test]
    fn nothing_left_means_the_whole_text_is_kept() {
        assert_eq!(strip_reply("> only quotes\n> more\n"), "> only quotes\n> more");
        assert_eq!(strip_reply("-- \nsignature only"), "-- \nsignature only");
        assert_eq!(strip_reply("Line 1\nLine 2"), "Line 1\nLine 2");
    }
}
