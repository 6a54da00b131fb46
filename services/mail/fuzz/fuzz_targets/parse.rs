//! Raw bytes → inbound message: parsing and classification must never panic, whatever arrives.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|raw: &[u8]| {
    let own = vec!["support@example.com".to_string()];
    if let Ok(mail) = helpdesk_mail::parse(raw, &helpdesk_mail::Limits::default(), &own) {
        let _ = helpdesk_mail::to_inbound(&mail, "support@example.com");
    }
});
