//! What the contact sent with the new ticket form: the multipart body read into a [`Draft`] (every
//! text value exactly as typed, so a re-rendered form loses nothing) and its files, and the checks
//! that need no service. Messages are tied to the input ids the template uses.
//!
//! The body is read here with the portal's form limit (`portal::form_limit`), whatever route
//! layers say: a script may send the CSRF token as a header, and then the guard has not read (and
//! bounded) the body for us.

use std::collections::HashMap;

use axum::{
    body::{Body, Bytes},
    extract::{FromRequest, Request},
};
use chrono::{NaiveDate, Utc};

use crate::{
    clean,
    extract::Multipart,
    portal::{MAX_FILES_PER_FORM, error::PageError, form::FormErrors},
};

/// The form's text, as typed.
#[derive(Debug, Clone, Default)]
pub struct Draft {
    pub subject: String,
    pub message: String,
    /// A category id, or empty for none.
    pub category: String,
    pub priority: String,
    /// `YYYY-MM-DD` (what `<input type="date">` sends), or empty.
    pub due_date: String,
    /// Guests only.
    pub name: String,
    pub email: String,
    pub captcha: String,
    /// Custom-field values by key (`cf.<key>` in the form; a multi-select repeats its key).
    pub custom: HashMap<String, Vec<String>>,
    /// `fields`: the "Show the fields for this category" button (no JavaScript); else a submission.
    pub intent: String,
}

impl Draft {
    /// The first value of a custom field, or "".
    pub fn custom_value(&self, key: &str) -> &str {
        self.custom.get(key).and_then(|v| v.first()).map_or("", String::as_str)
    }

    pub fn custom_has(&self, key: &str, value: &str) -> bool {
        self.custom.get(key).is_some_and(|v| v.iter().any(|x| x == value))
    }
}

/// One attached file.
pub struct Upload {
    pub filename: String,
    pub content_type: String,
    pub data: Bytes,
}

/// The form as sent: its text, its files, and what was wrong with the files or the characters.
pub struct Sent {
    pub draft: Draft,
    pub files: Vec<Upload>,
    /// Files were attached (even refused ones): a re-rendered form says to choose them again.
    pub had_files: bool,
    pub errors: FormErrors,
}

/// Reads the multipart body, at most `limit` bytes; files over `file_max` bytes, empty files and
/// files over [`MAX_FILES_PER_FORM`] become messages on the attachments field.
pub async fn read(request: Request, limit: usize, file_max: usize) -> Result<Sent, PageError> {
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, limit).await.map_err(|_| PageError::TooLarge)?;
    let mut form = Multipart::from_request(Request::from_parts(parts, Body::from(bytes)), &()).await?;
    let mut sent = Sent { draft: Draft::default(), files: Vec::new(), had_files: false, errors: FormErrors::default() };
    let mut too_many = false;
    while let Some(field) = form.next_field().await? {
        let name = field.name().unwrap_or_default().to_string();
        if name == "attachments" {
            let filename = field.file_name().unwrap_or_default().to_string();
            let content_type = field.content_type().unwrap_or_default().to_string();
            let data = Multipart::bytes(field).await?;
            // A file input with nothing chosen still sends an empty, nameless part.
            if filename.is_empty() && data.is_empty() {
                continue;
            }
            sent.had_files = true;
            if sent.files.len() == MAX_FILES_PER_FORM {
                too_many = true;
            } else if data.is_empty() {
                sent.errors.add("attachments", format!("{filename} is empty"));
            } else if data.len() > file_max {
                sent.errors.add("attachments", format!("{filename} is larger than {}", size_text(file_max)));
            } else {
                sent.files.push(Upload { filename, content_type, data });
            }
            continue;
        }
        let value = field.text().await.map_err(|_| PageError::bad_request("the form could not be read"))?;
        // Browsers send a textarea's line breaks as CRLF (HTML's form encoding); the services
        // store (and a multi-line field accepts) plain line feeds.
        let value = value.replace("\r\n", "\n");
        let draft = &mut sent.draft;
        let slot = match name.as_str() {
            "subject" => &mut draft.subject,
            "message" => &mut draft.message,
            "category" => &mut draft.category,
            "priority" => &mut draft.priority,
            "due_date" => &mut draft.due_date,
            "name" => &mut draft.name,
            "email" => &mut draft.email,
            "captcha" => &mut draft.captcha,
            "intent" => &mut draft.intent,
            other => {
                if let Some(key) = other.strip_prefix("cf.") {
                    draft.custom.entry(key.to_string()).or_default().push(value);
                }
                continue;
            }
        };
        *slot = value;
    }
    if too_many {
        sent.errors.add("attachments", format!("Attach at most {MAX_FILES_PER_FORM} files"));
    }
    Ok(sent)
}

/// The checks of the fixed fields (the category's own fields are `fields::values`). `guest`: the
/// name and email are asked for.
pub fn check(draft: &Draft, guest: bool, errors: &mut FormErrors) {
    let texts: [(&'static str, &str); 5] = [
        ("subject", &draft.subject),
        ("message", &draft.message),
        ("due_date", &draft.due_date),
        ("name", &draft.name),
        ("email", &draft.email),
    ];
    for (field, text) in texts {
        if clean::check(field, text).is_err() {
            errors.add(field, "Remove the control characters from this field");
        }
    }
    if guest {
        if draft.name.trim().is_empty() {
            errors.add("name", "Enter your name");
        }
        if !plausible_email(&draft.email) {
            errors.add("email", "Enter your email address, like name@example.com");
        }
    }
    if draft.subject.trim().is_empty() {
        errors.add("subject", "Enter a subject");
    }
    if draft.message.trim().is_empty() {
        errors.add("message", "Enter a message: what happened, and what you need");
    }
    if due_date(&draft.due_date).is_err() {
        errors.add("due_date", "Enter the due date as a date that is today or later");
    }
}

/// The due date as the service stores it: noon UTC of that day, which is the same calendar day
/// in almost every time zone (a date has no time of day to show). `Ok(None)` when left empty.
pub fn due_date(raw: &str) -> Result<Option<prost_types::Timestamp>, ()> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    let date = NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| ())?;
    // A day of slack: "today" in the contact's time zone may be yesterday in UTC.
    if date < Utc::now().date_naive().pred_opt().ok_or(())? {
        return Err(());
    }
    let noon = date.and_hms_opt(12, 0, 0).ok_or(())?.and_utc();
    Ok(Some(helpdesk_kit::events::timestamp(noon)))
}

/// Only a first look (identity checks the address properly): something@something.
fn plausible_email(raw: &str) -> bool {
    raw.trim().split_once('@').is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
}

/// A byte count as forms state it: `10 MB`, `512 KB`.
pub fn size_text(bytes: usize) -> String {
    const MB: usize = 1024 * 1024;
    if bytes >= MB && bytes.is_multiple_of(MB) { format!("{} MB", bytes / MB) } else { format!("{} KB", bytes.div_ceil(1024)) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draft() -> Draft {
        Draft { subject: "Card declined".into(), message: "It was refused twice".into(), ..Default::default() }
    }

    #[test]
    fn a_complete_draft_passes_and_each_missing_part_is_named() {
        let mut errors = FormErrors::default();
        check(&draft(), false, &mut errors);
        assert!(errors.is_empty(), "{errors:?}");
        let mut errors = FormErrors::default();
        check(&Draft { subject: "  ".into(), due_date: "31/12/2030".into(), ..Default::default() }, true, &mut errors);
        for field in ["name", "email", "subject", "message", "due_date"] {
            assert!(errors.get(field).is_some(), "{field}: {errors:?}");
        }
    }

    #[test]
    fn due_dates_are_days_from_yesterday_on_stored_at_noon_utc() {
        assert_eq!(due_date(""), Ok(None));
        let at = due_date("2030-01-31").expect("date").expect("some");
        let back = chrono::DateTime::from_timestamp(at.seconds, 0).expect("time");
        assert_eq!(back.to_rfc3339(), "2030-01-31T12:00:00+00:00");
        assert!(due_date("2001-01-01").is_err());
        assert!(due_date("2030-02-30").is_err());
        assert!(due_date("tomorrow").is_err());
    }

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(size_text(10 * 1024 * 1024), "10 MB");
        assert_eq!(size_text(1000), "1 KB");
        assert_eq!(size_text(1536 * 1024), "1536 KB");
    }
}
