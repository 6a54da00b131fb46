//! What a mail says, both ways, as pure functions: the templates of account mail (subject,
//! plain-text and HTML body, everything interpolated escaped); and for inbound mail, parsing under
//! limits (`inbound`) and classification of automatic mail (`classify`).

pub mod classify;
pub mod inbound;
pub mod templates;
pub mod ticket_mail;
