//! Every `.eml` of mail-parser's own corpus (its registry source's `resources/eml/`: RFC samples,
//! legacy charsets, third-party and deliberately malformed mail) goes through parsing and becomes
//! either an inbound message or an explicit, named parse error — never a panic.

use std::path::{Path, PathBuf};

use helpdesk_mail::{Limits, ParseError, parse, to_inbound};

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
