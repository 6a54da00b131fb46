//! A category's custom fields on the form: the views the template draws (every category's
//! fields are on the page, the chosen one's shown and the others `hidden` and `disabled`, so a
//! script can switch them at once and a form without JavaScript sends only the chosen one's), and
//! the typed values of the chosen category for `CreateTicket`. The tickets service validates the
//! values again; what is checked here is what a person can fix beside the field.

use std::collections::HashMap;

use helpdesk_proto::tickets::v1::{self as pb, FieldType, field_value::Value as V};

use crate::portal::{form::FormErrors, new_ticket::input::Draft};

/// One category as the form offers it.
pub struct CategoryView {
    pub id: String,
    pub name: String,
    pub selected: bool,
    pub fields: Vec<FieldView>,
}

/// One custom field: `id` is the input's id (and the error's anchor), `name` the form name.
pub struct FieldView {
    pub id: String,
    pub name: String,
    pub label: String,
    /// `text`, `multiline`, `number`, `date`, `dropdown`, `multi_select` or `checkbox`.
    pub kind: &'static str,
    pub required: bool,
    /// The typed value (text kinds), or "on" for a ticked checkbox.
    pub value: String,
    pub options: Vec<Choice>,
}

/// An option of a dropdown or multi-select; `id` is unique on the page (multi-select checkboxes).
pub struct Choice {
    pub id: String,
    pub value: String,
    pub chosen: bool,
}

/// The input id of a category's field: the category's place in the list keeps ids unique when two
/// categories share a key.
pub fn field_id(category_index: usize, key: &str) -> String {
    format!("cf-{category_index}-{key}")
}

fn kind(field: &pb::FieldDefinition) -> &'static str {
    match FieldType::try_from(field.r#type) {
        Ok(FieldType::Multiline) => "multiline",
        Ok(FieldType::Number) => "number",
        Ok(FieldType::Date) => "date",
        Ok(FieldType::Dropdown) => "dropdown",
        Ok(FieldType::MultiSelect) => "multi_select",
        Ok(FieldType::Checkbox) => "checkbox",
        _ => "text",
    }
}

fn ordered(category: &pb::Category) -> Vec<&pb::FieldDefinition> {
    let mut fields: Vec<_> = category.fields.iter().collect();
    fields.sort_by_key(|f| f.position);
    fields
}

/// Every category with its fields, filled from the draft for the chosen one.
pub fn views(categories: &[pb::Category], draft: &Draft) -> Vec<CategoryView> {
    categories
        .iter()
        .enumerate()
        .map(|(index, category)| {
            let selected = category.id == draft.category;
            let fields = ordered(category)
                .into_iter()
                .map(|f| {
                    let id = field_id(index, &f.key);
                    let options = f
                        .options
                        .iter()
                        .enumerate()
                        .map(|(i, o)| Choice {
                            id: if i == 0 { id.clone() } else { format!("{id}-{i}") },
                            value: o.clone(),
                            chosen: selected && draft.custom_has(&f.key, o),
                        })
                        .collect();
                    FieldView {
                        name: format!("cf.{}", f.key),
                        label: f.label.clone(),
                        kind: kind(f),
                        required: f.required,
                        value: if selected { draft.custom_value(&f.key).to_string() } else { String::new() },
                        options,
                        id,
                    }
                })
                .collect();
            CategoryView { id: category.id.clone(), name: category.name.clone(), selected, fields }
        })
        .collect()
}

/// The chosen category's values, typed as its definitions say; what a person must fix becomes a
/// message beside the field. Empty optional fields are left out.
pub fn values(index: usize, category: &pb::Category, draft: &Draft, errors: &mut FormErrors) -> HashMap<String, pb::FieldValue> {
    let mut values = HashMap::new();
    for f in ordered(category) {
        let id = field_id(index, &f.key);
        let label = &f.label;
        let text = draft.custom_value(&f.key).trim().to_string();
        let value = match kind(f) {
            "checkbox" => {
                let ticked = !text.is_empty();
                if f.required && !ticked {
                    errors.add(id, format!("{label}: tick this box to go on"));
                    continue;
                }
                Some(V::Checkbox(ticked))
            }
            "multi_select" => {
                let chosen: Vec<String> =
                    draft.custom.get(&f.key).into_iter().flatten().filter(|v| !v.is_empty()).cloned().collect();
                (!chosen.is_empty()).then_some(V::Options(pb::StringList { values: chosen }))
            }
            _ if text.is_empty() => None,
            "number" => match text.parse::<f64>() {
                Ok(n) if n.is_finite() => Some(V::Number(n)),
                _ => {
                    errors.add(id, format!("{label}: enter a number, like 12 or 4.5"));
                    continue;
                }
            },
            "date" => Some(V::Date(text)),
            _ => Some(V::Text(text)),
        };
        match value {
            Some(value) => {
                values.insert(f.key.clone(), pb::FieldValue { value: Some(value) });
            }
            None if f.required => errors.add(id, format!("{label}: this field is required")),
            None => {}
        }
    }
    values
}

/// The custom field a service message names (`order: is required`, from `custom_fields: …`):
/// its input id and label.
pub fn named(index: usize, category: &pb::Category, message: &str) -> Option<(String, String, String)> {
    let (key, reason) = message.split_once(':')?;
    let field = category.fields.iter().find(|f| f.key == key.trim())?;
    Some((field_id(index, &field.key), field.label.clone(), reason.trim().to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(key: &str, kind: FieldType, required: bool, options: &[&str]) -> pb::FieldDefinition {
        pb::FieldDefinition {
            key: key.into(),
            label: key.to_uppercase(),
            r#type: kind as i32,
            required,
            options: options.iter().map(|o| o.to_string()).collect(),
            position: 0,
        }
    }

    fn category() -> pb::Category {
        pb::Category {
            id: "c1".into(),
            name: "Cards".into(),
            active: true,
            fields: vec![
                field("order", FieldType::Text, true, &[]),
                field("amount", FieldType::Number, false, &[]),
                field("since", FieldType::Date, false, &[]),
                field("channels", FieldType::MultiSelect, false, &["app", "web"]),
                field("urgent", FieldType::Checkbox, false, &[]),
            ],
        }
    }

    fn draft(pairs: &[(&str, &str)]) -> Draft {
        let mut draft = Draft { category: "c1".into(), ..Default::default() };
        for (k, v) in pairs {
            draft.custom.entry(k.to_string()).or_default().push(v.to_string());
        }
        draft
    }

    #[test]
    fn typed_values_follow_the_definitions() {
        let mut errors = FormErrors::default();
        let values = values(
            2,
            &category(),
            &draft(&[("order", " A-17 "), ("amount", "4.5"), ("since", "2026-11-01"), ("channels", "app"), ("channels", "web"), ("urgent", "on")]),
            &mut errors,
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(values["order"].value, Some(V::Text("A-17".into())));
        assert_eq!(values["amount"].value, Some(V::Number(4.5)));
        assert_eq!(values["since"].value, Some(V::Date("2026-11-01".into())));
        assert_eq!(values["channels"].value, Some(V::Options(pb::StringList { values: vec!["app".into(), "web".into()] })));
        assert_eq!(values["urgent"].value, Some(V::Checkbox(true)));
    }

    #[test]
    fn a_missing_required_field_and_a_bad_number_are_tied_to_their_inputs() {
        let mut errors = FormErrors::default();
        let values = values(2, &category(), &draft(&[("amount", "twelve")]), &mut errors);
        assert_eq!(errors.get("cf-2-order"), Some("ORDER: this field is required"));
        assert!(errors.get("cf-2-amount").is_some_and(|m| m.contains("number")), "{errors:?}");
        assert_eq!(values.get("urgent").and_then(|v| v.value.clone()), Some(V::Checkbox(false)));
    }

    #[test]
    fn only_the_chosen_category_is_filled_and_ids_stay_unique() {
        let mut other = category();
        other.id = "c2".into();
        let views = views(&[category(), other], &draft(&[("order", "A-1")]));
        assert!(views[0].selected && !views[1].selected);
        assert_eq!(views[0].fields[0].value, "A-1");
        assert_eq!(views[1].fields[0].value, "");
        assert_ne!(views[0].fields[0].id, views[1].fields[0].id);
        assert_eq!(named(0, &category(), "order: is required"), Some(("cf-0-order".into(), "ORDER".into(), "is required".into())));
    }
}
