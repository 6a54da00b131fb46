//! Custom fields: the definitions an admin gives a category, and the validation of a ticket's
//! values against them. Errors name the field (`custom_fields.<key>: …`) so a form can point at it.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::TicketError;

pub const MAX_FIELDS: usize = 50;
const MAX_TEXT_CHARS: usize = 1_000;
const MAX_MULTILINE_CHARS: usize = 10_000;
const MAX_OPTIONS: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    Text,
    Multiline,
    Number,
    Date,
    Dropdown,
    MultiSelect,
    Checkbox,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldDefinition {
    pub key: String,
    pub label: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    pub required: bool,
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default)]
    pub position: u32,
}

/// A value as stored (JSON) and as validated.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum FieldValue {
    Checkbox(bool),
    Number(f64),
    Text(String),
    Options(Vec<String>),
}

fn field_error(key: &str, reason: impl Into<String>) -> TicketError {
    TicketError::Invalid {
        field: "custom_fields",
        reason: format!("{key}: {}", reason.into()),
    }
}

/// Checks an admin's field definitions: unique plain keys, labels, options where a choice is made.
pub fn validate_definitions(definitions: &[FieldDefinition]) -> Result<(), TicketError> {
    if definitions.len() > MAX_FIELDS {
        return Err(field_error("*", format!("a category has at most {MAX_FIELDS} fields")));
    }
    let mut seen = std::collections::HashSet::new();
    for d in definitions {
        let plain = !d.key.is_empty()
            && d.key.len() <= 40
            && d.key.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        if !plain {
            return Err(field_error(&d.key, "keys are 1-40 lower-case letters, digits or _"));
        }
        if !seen.insert(d.key.as_str()) {
            return Err(field_error(&d.key, "is defined twice"));
        }
        if d.label.trim().is_empty() || d.label.chars().count() > 200 {
            return Err(field_error(&d.key, "needs a label of 1-200 characters"));
        }
        let choice = matches!(d.field_type, FieldType::Dropdown | FieldType::MultiSelect);
        if choice && (d.options.is_empty() || d.options.len() > MAX_OPTIONS) {
            return Err(field_error(&d.key, format!("needs 1-{MAX_OPTIONS} options")));
        }
        if !choice && !d.options.is_empty() {
            return Err(field_error(&d.key, "only dropdown and multi-select fields have options"));
        }
    }
    Ok(())
}

/// Validates values against a category's definitions; returns them normalized (trimmed text,
/// dates as `YYYY-MM-DD`). Unknown keys, missing required fields and wrong types are refused.
pub fn validate_values(
    definitions: &[FieldDefinition],
    values: BTreeMap<String, FieldValue>,
) -> Result<BTreeMap<String, FieldValue>, TicketError> {
    if let Some(unknown) = values.keys().find(|k| !definitions.iter().any(|d| &d.key == *k)) {
        return Err(field_error(unknown, "is not a field of this category"));
    }
    let mut checked = BTreeMap::new();
    for d in definitions {
        let value = values.get(&d.key).cloned();
        let value = match value {
            None => None,
            Some(FieldValue::Text(t)) if t.trim().is_empty() => None,
            Some(FieldValue::Options(o)) if o.is_empty() => None,
            Some(v) => Some(validate_value(d, v)?),
        };
        match value {
            Some(v) => {
                checked.insert(d.key.clone(), v);
            }
            None if d.required => return Err(field_error(&d.key, "is required")),
            None => {}
        }
    }
    Ok(checked)
}

fn validate_value(d: &FieldDefinition, value: FieldValue) -> Result<FieldValue, TicketError> {
    let wrong = || field_error(&d.key, format!("expects a {:?} value", d.field_type).to_lowercase());
    match (d.field_type, value) {
        (FieldType::Text, FieldValue::Text(t)) => bounded_text(&d.key, t.trim(), MAX_TEXT_CHARS, false),
        (FieldType::Multiline, FieldValue::Text(t)) => bounded_text(&d.key, t.trim(), MAX_MULTILINE_CHARS, true),
        (FieldType::Number, FieldValue::Number(n)) if n.is_finite() => Ok(FieldValue::Number(n)),
        (FieldType::Number, FieldValue::Number(_)) => Err(field_error(&d.key, "must be a finite number")),
        (FieldType::Date, FieldValue::Text(t)) => NaiveDate::parse_from_str(t.trim(), "%Y-%m-%d")
            .map(|date| FieldValue::Text(date.format("%Y-%m-%d").to_string()))
            .map_err(|_| field_error(&d.key, "must be a date as YYYY-MM-DD")),
        (FieldType::Checkbox, FieldValue::Checkbox(b)) => Ok(FieldValue::Checkbox(b)),
        (FieldType::Dropdown, FieldValue::Text(t)) => {
            one_of(d, &[t.trim().to_string()])?;
            Ok(FieldValue::Text(t.trim().to_string()))
        }
        (FieldType::Dropdown, FieldValue::Options(o)) if o.len() == 1 => {
            one_of(d, &o)?;
            Ok(FieldValue::Text(o[0].clone()))
        }
        (FieldType::MultiSelect, FieldValue::Options(mut o)) => {
            one_of(d, &o)?;
            o.sort();
            o.dedup();
            Ok(FieldValue::Options(o))
        }
        _ => Err(wrong()),
    }
}

fn bounded_text(key: &str, text: &str, max: usize, multiline: bool) -> Result<FieldValue, TicketError> {
    if text.chars().count() > max {
        return Err(field_error(key, format!("is longer than {max} characters")));
    }
    if text.chars().any(|c| c.is_control() && !(multiline && (c == '\n' || c == '\t'))) {
        return Err(field_error(key, "contains control characters"));
    }
    Ok(FieldValue::Text(text.to_string()))
}

fn one_of(d: &FieldDefinition, chosen: &[String]) -> Result<(), TicketError> {
    match chosen.iter().find(|c| !d.options.contains(c)) {
        Some(bad) => Err(field_error(&d.key, format!("`{bad}` is not one of its options"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(key: &str, field_type: FieldType, required: bool, options: &[&str]) -> FieldDefinition {
        FieldDefinition {
            key: key.into(),
            label: key.to_uppercase(),
            field_type,
            required,
            options: options.iter().map(|o| o.to_string()).collect(),
            position: 0,
        }
    }

    fn category() -> Vec<FieldDefinition> {
        vec![
            def("order", FieldType::Text, true, &[]),
            def("details", FieldType::Multiline, false, &[]),
            def("amount", FieldType::Number, false, &[]),
            def("since", FieldType::Date, false, &[]),
            def("product", FieldType::Dropdown, false, &["card", "loan"]),
            def("channels", FieldType::MultiSelect, false, &["app", "web", "phone"]),
            def("urgent", FieldType::Checkbox, false, &[]),
        ]
    }

    fn values(pairs: &[(&str, FieldValue)]) -> BTreeMap<String, FieldValue> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    }

    #[test]
    fn valid_values_of_every_type_pass_normalized() {
        let checked = validate_values(
            &category(),
            values(&[
                ("order", FieldValue::Text("  A-17 ".into())),
                ("details", FieldValue::Text("line 1\nline 2".into())),
                ("amount", FieldValue::Number(12.5)),
                ("since", FieldValue::Text("2026-11-01".into())),
                ("product", FieldValue::Text("card".into())),
                ("channels", FieldValue::Options(vec!["web".into(), "app".into(), "web".into()])),
                ("urgent", FieldValue::Checkbox(true)),
            ]),
        )
        .expect("valid");
        assert_eq!(checked["order"], FieldValue::Text("A-17".into()));
        assert_eq!(checked["channels"], FieldValue::Options(vec!["app".into(), "web".into()]));
    }

    #[test]
    fn each_bad_value_is_refused_naming_its_field() {
        let cases: Vec<(BTreeMap<String, FieldValue>, &str)> = vec![
            (values(&[]), "order: is required"),
            (values(&[("order", FieldValue::Text("  ".into()))]), "order: is required"),
            (values(&[("order", FieldValue::Text("x".into())), ("colour", FieldValue::Text("red".into()))]), "colour: is not a field"),
            (values(&[("order", FieldValue::Number(3.0))]), "order: expects a text value"),
            (values(&[("order", FieldValue::Text("x".into())), ("amount", FieldValue::Text("12".into()))]), "amount: expects a number value"),
            (values(&[("order", FieldValue::Text("x".into())), ("amount", FieldValue::Number(f64::NAN))]), "amount: must be a finite number"),
            (values(&[("order", FieldValue::Text("x".into())), ("since", FieldValue::Text("01/11/2026".into()))]), "since: must be a date"),
            (values(&[("order", FieldValue::Text("x".into())), ("product", FieldValue::Text("boat".into()))]), "product: `boat` is not one of its options"),
            (values(&[("order", FieldValue::Text("x".into())), ("channels", FieldValue::Options(vec!["fax".into()]))]), "channels: `fax`"),
            (values(&[("order", FieldValue::Text("x".into())), ("urgent", FieldValue::Text("yes".into()))]), "urgent: expects a checkbox value"),
            (values(&[("order", FieldValue::Text("x\u{7}".into()))]), "order: contains control characters"),
            (values(&[("order", FieldValue::Text("y".repeat(1001)))]), "order: is longer than 1000"),
        ];
        for (input, expected) in cases {
            let error = validate_values(&category(), input).expect_err(expected).to_string();
            assert!(error.starts_with(&format!("custom_fields: {expected}")), "{error} / {expected}");
        }
    }

    #[test]
    fn definitions_need_plain_unique_keys_and_options_for_choices() {
        assert!(validate_definitions(&category()).is_ok());
        assert!(validate_definitions(&[def("Order No", FieldType::Text, false, &[])]).is_err());
        assert!(validate_definitions(&[def("a", FieldType::Text, false, &[]), def("a", FieldType::Number, false, &[])]).is_err());
        assert!(validate_definitions(&[def("p", FieldType::Dropdown, false, &[])]).is_err());
        assert!(validate_definitions(&[def("t", FieldType::Text, false, &["x"])]).is_err());
    }

    #[test]
    fn stored_values_round_trip_through_json() {
        let stored = values(&[
            ("a", FieldValue::Text("x".into())),
            ("b", FieldValue::Number(2.0)),
            ("c", FieldValue::Checkbox(false)),
            ("d", FieldValue::Options(vec!["p".into()])),
        ]);
        let json = serde_json::to_value(&stored).expect("json");
        let back: BTreeMap<String, FieldValue> = serde_json::from_value(json).expect("back");
        assert_eq!(back, stored);
    }
}
