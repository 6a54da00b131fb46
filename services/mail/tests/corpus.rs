//! Two corpora go through parsing.
//!
//! - Every `.eml` of mail-parser's own corpus (its registry source's `resources/eml/`: RFC samples,
//!   legacy charsets, third-party and deliberately malformed mail) becomes either an inbound
//!   message or an explicit, named parse error — never a panic — and no message is empty where its
//!   mail had text.
//! - `tests/shapes/`: real-world shapes built by hand (attribution lines of the common clients in
//!   several languages, bottom-posting, interleaved answers, broken MIME, mislabelled and legacy
//!   charsets, NULs, forwarded mail, delivery reports of each action, loop headers, odd addresses),
//!   each `<name>.eml` next to `<name>.expected.txt`: `key: value` lines for the fields it checks
//!   (`sender`, `name`, `subject`, `flags` — exactly the flags set —, `bounced`, `attachments` as
//!   `name (type); …`), then `---`, then the stored text.

use std::path::{Path, PathBuf};

use helpdesk_mail::{Limits, ParseError, parse, to_inbound};
use helpdesk_proto::events::v1::InboundMessage;

/// mail-parser's source in the cargo registry (it is a dependency, so it is there).
fn corpus_dir() -> PathBuf {
    let home = std::env::var("CARGO_HOME")
        .map(PathBuf::from)
        .unwrap_or_else(|_| PathBuf::from(std::env::var("HOME").expect("HOME")).join(".cargo"));
    let registry = home.join("registry").join("src");
    for index in std::fs::read_dir(&registry).expect("the cargo registry") {
        let index = index.expect("entry").path();
        for krate in std::fs::read_dir(&index).expect("registry index dir") {
            let krate = krate.expect("entry").path();
            let name = krate.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_string();
            if name.starts_with("mail-parser-0.11") && krate.join("resources/eml").is_dir() {
                return krate.join("resources/eml");
            }
        }
    }
    panic!("mail-parser 0.11's source with resources/eml is not in {}", registry.display());
}

fn eml_files(dir: &Path, into: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).expect("read dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            eml_files(&path, into);
        } else if path.extension().is_some_and(|e| e == "eml") {
            into.push(path);
        }
    }
}

#[test]
fn every_mail_in_the_corpus_becomes_a_message_or_a_named_error() {
    let mut files = Vec::new();
    eml_files(&corpus_dir(), &mut files);
    assert!(files.len() >= 100, "expected the whole corpus, found {}", files.len());
    let own = vec!["support@example.com".to_string()];
    let (mut messages, mut refused) = (0, Vec::new());
    for file in &files {
        let raw = std::fs::read(file).expect("read eml");
        match parse(&raw, &Limits::default(), &own) {
            Ok(mail) => {
                let inbound = to_inbound(&mail, "support@example.com");
                assert!(!inbound.external_id.is_empty(), "{}", file.display());
                let sender = inbound.sender.as_ref().expect("a sender");
                assert!(sender.address.is_empty() || sender.address.contains('@'), "{}", file.display());
                // No stored message is empty where its mail had text.
                if !mail.full_text.trim().is_empty() {
                    assert!(!inbound.text.trim().is_empty(), "{}: text lost", file.display());
                }
                messages += 1;
            }
            Err(error @ (ParseError::Unparseable | ParseError::TooManyParts { .. })) => {
                refused.push(format!("{}: {error}", file.file_name().and_then(|n| n.to_str()).unwrap_or("?")));
            }
            Err(other) => panic!("{}: unexpected {other}", file.display()),
        }
    }
    println!("{messages} messages, {} refused: {refused:#?}", refused.len());
    assert!(messages > files.len() / 2, "most of the corpus is ordinary mail: {messages} of {}", files.len());
}

fn shapes_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests").join("shapes")
}

/// The flags set on a message, by their proto names.
fn flags(inbound: &InboundMessage) -> Vec<&'static str> {
    let f = inbound.flags.clone().unwrap_or_default();
    [
        ("auto_submitted", f.auto_submitted),
        ("bulk", f.bulk),
        ("bounce", f.bounce),
        ("delivery_delayed", f.delivery_delayed),
        ("from_own_address", f.from_own_address),
        ("loop_detected", f.loop_detected),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect()
}

/// What one shape's expectation file says is wrong with `inbound`, if anything.
fn mismatches(expected: &str, inbound: &InboundMessage) -> Vec<String> {
    let (fields, text) = expected.split_once("\n---\n").or_else(|| expected.strip_prefix("---\n").map(|t| ("", t))).expect("a --- line");
    let mut wrong = Vec::new();
    let mut check = |what: &str, want: &str, got: &str| {
        if want.trim() != got.trim() {
            wrong.push(format!("{what}: expected {:?}, got {:?}", want.trim(), got.trim()));
        }
    };
    check("text", text, &inbound.text);
    let sender = inbound.sender.clone().unwrap_or_default();
    let bounced = inbound.flags.clone().unwrap_or_default().bounced_message_id;
    let attachments: Vec<String> = inbound.attachments.iter().map(|a| format!("{} ({})", a.filename, a.content_type)).collect();
    for line in fields.lines().filter(|l| !l.trim().is_empty()) {
        let (key, want) = line.split_once(':').unwrap_or_else(|| panic!("not `key: value`: {line}"));
        match key.trim() {
            "sender" => check(key, want, &sender.address),
            "name" => check(key, want, &sender.display_name),
            "subject" => check(key, want, &inbound.subject),
            "flags" => check(key, want, &flags(inbound).join(" ")),
            "bounced" => check(key, want, &bounced),
            "attachments" => check(key, want, &attachments.join("; ")),
            other => panic!("unknown expectation {other}"),
        }
    }
    wrong
}

#[test]
fn every_constructed_real_world_shape_is_stored_as_written_down() {
    let mut names: Vec<PathBuf> = std::fs::read_dir(shapes_dir())
        .expect("tests/shapes")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "eml"))
        .collect();
    names.sort();
    assert!(names.len() >= 30, "the shapes corpus is there: {}", names.len());
    let own = vec!["support@example.com".to_string()];
    let mut failures = Vec::new();
    for path in &names {
        let raw = std::fs::read(path).expect("read eml");
        let expected = std::fs::read_to_string(path.with_extension("expected.txt")).expect("expected.txt next to the eml");
        let name = path.file_stem().and_then(|n| n.to_str()).unwrap_or("?").to_string();
        let mail = match parse(&raw, &Limits::default(), &own) {
            Ok(mail) => mail,
            Err(error) => {
                failures.push(format!("{name}: refused: {error}"));
                continue;
            }
        };
        let mut inbound = to_inbound(&mail, "support@example.com");
        // The attachments as ingest turns them into references (names and declared types).
        inbound.attachments = mail
            .attachments
            .iter()
            .map(|a| helpdesk_proto::events::v1::BlobRef { filename: a.filename.clone(), content_type: a.content_type.clone(), ..Default::default() })
            .collect();
        failures.extend(mismatches(&expected, &inbound).into_iter().map(|m| format!("{name}: {m}")));
    }
    assert!(failures.is_empty(), "{} of {} shapes differ:\n{}", failures.len(), names.len(), failures.join("\n"));
}

/// What the fuzz target does, in every test run: each shape with bytes flipped, cut short or
/// duplicated still parses to a message or a named error, and never to a panic.
#[test]
fn damaged_shapes_never_panic_the_parser() {
    let own = vec!["support@example.com".to_string()];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut parsed = 0;
    for entry in std::fs::read_dir(shapes_dir()).expect("tests/shapes") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "eml") {
            continue;
        }
        let raw = std::fs::read(&path).expect("read eml");
        for round in 0..40 {
            let mut damaged = raw.clone();
            let len = damaged.len() as u64;
            match round % 4 {
                0 => {
                    for _ in 0..8 {
                        let at = (next() % len) as usize;
                        damaged[at] = (next() & 0xff) as u8;
                    }
                }
                1 => damaged.truncate((next() % len) as usize),
                2 => {
                    let at = (next() % len) as usize;
                    let piece = damaged[at..].to_vec();
                    damaged.extend_from_slice(&piece);
                }
                _ => {
                    let at = (next() % len) as usize;
                    damaged.insert(at, [b'\0', b'=', b'<', b'>', b'\n', b'"', b'@', 0xff][(next() % 8) as usize]);
                }
            }
            if let Ok(mail) = parse(&damaged, &Limits::default(), &own) {
                let inbound = to_inbound(&mail, "support@example.com");
                assert!(!inbound.text.contains('\0') && !inbound.subject.contains('\0'), "{}", path.display());
                parsed += 1;
            }
        }
    }
    assert!(parsed > 0);
}
