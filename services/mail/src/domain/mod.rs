//! What a mail says: the templates of account mail, rendered to a subject, a plain-text body and
//! an HTML body. Everything interpolated into HTML is escaped.

pub mod templates;
