//! Proto ⇄ domain conversions for tickets: tickets, messages, field values, statuses,
//! priorities, categories, and the parsing of list requests into a [`ListQuery`].

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use helpdesk_kit::events::timestamp;
use helpdesk_proto::tickets::v1 as pb;
use uuid::Uuid;

use crate::{
    domain::{
        Ticket, TicketError,
        fields::{FieldDefinition, FieldType, FieldValue},
        invalid, parse_slug_id,
        query::{Cursor, Filter, ListQuery, Queue, Scope, Sort, page_size, parse_search},
    },
    store::{CategoryRow, PriorityRow, StatusRow, StoredMessage},
};

pub fn ticket_to_pb(ticket: Ticket) -> pb::Ticket {
    pb::Ticket {
        id: ticket.id.to_string(),
        number: ticket.number,
        subject: ticket.subject,
        status: Some(pb::Status {
            id: ticket.status,
            name: ticket.status_name,
            kind: i32::from(ticket.status_kind),
            position: 0,
        }),
        priority: Some(pb::Priority {
            id: ticket.priority,
            name: ticket.priority_name,
            rank: i32::from(ticket.priority_rank),
            is_default: false,
        }),
        category_id: ticket.category_id.map(|c| c.to_string()).unwrap_or_default(),
        due_at: ticket.due_at.map(timestamp),
        assignee_id: ticket.assignee_id.map(|a| a.to_string()).unwrap_or_default(),
        channel: i32::from(ticket.channel),
        contact_id: ticket.contact_id.to_string(),
        group_id: ticket.group_id.map(|g| g.to_string()).unwrap_or_default(),
        custom_fields: ticket.custom_fields.into_iter().map(|(k, v)| (k, value_to_pb(v))).collect(),
        created_at: Some(timestamp(ticket.created_at)),
        updated_at: Some(timestamp(ticket.updated_at)),
        message_count: u32::try_from(ticket.message_count).unwrap_or(u32::MAX),
        unverified: ticket.unverified,
    }
}

pub fn message_to_pb(message: StoredMessage) -> pb::Message {
    pb::Message {
        id: message.id.to_string(),
        ticket_id: message.ticket_id.to_string(),
        kind: i32::from(message.kind),
        author_kind: i32::from(message.author_kind),
        author_id: message.author_id,
        text: message.text,
        html: message.html,
        attachments: Vec::new(),
        channel: i32::from(message.channel),
        created_at: Some(timestamp(message.created_at)),
        raw: None,
    }
}

pub fn value_to_pb(value: FieldValue) -> pb::FieldValue {
    use pb::field_value::Value;
    pb::FieldValue {
        value: Some(match value {
            FieldValue::Text(t) => Value::Text(t),
            FieldValue::Number(n) => Value::Number(n),
            FieldValue::Checkbox(b) => Value::Checkbox(b),
            FieldValue::Options(o) => Value::Options(pb::StringList { values: o }),
        }),
    }
}

pub fn values_from_pb(values: HashMap<String, pb::FieldValue>) -> BTreeMap<String, FieldValue> {
    use pb::field_value::Value;
    values
        .into_iter()
        .filter_map(|(key, value)| {
            let value = match value.value? {
                Value::Text(t) | Value::Date(t) => FieldValue::Text(t),
                Value::Number(n) => FieldValue::Number(n),
                Value::Checkbox(b) => FieldValue::Checkbox(b),
                Value::Options(o) => FieldValue::Options(o.values),
            };
            Some((key, value))
        })
        .collect()
}

pub fn time_from_pb(field: &'static str, at: Option<prost_types::Timestamp>) -> Result<Option<DateTime<Utc>>, TicketError> {
    at.map(|t| {
        DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0))
            .ok_or_else(|| invalid(field, "is not a valid time"))
    })
    .transpose()
}

pub fn uuid_field(field: &'static str, raw: &str) -> Result<Option<Uuid>, TicketError> {
    match raw.trim() {
        "" => Ok(None),
        raw => Uuid::parse_str(raw).map(Some).map_err(|_| invalid(field, "is not an id")),
    }
}

pub fn status_to_pb(s: StatusRow) -> pb::Status {
    pb::Status { id: s.id, name: s.name, kind: i32::from(s.kind), position: u32::try_from(s.position).unwrap_or(0) }
}

pub fn priority_to_pb(p: PriorityRow) -> pb::Priority {
    pb::Priority { id: p.id, name: p.name, rank: i32::from(p.rank), is_default: p.is_default }
}

pub fn category_to_pb(c: CategoryRow) -> pb::Category {
    pb::Category {
        id: c.id.to_string(),
        name: c.name,
        active: c.active,
        fields: c
            .fields
            .into_iter()
            .map(|f| pb::FieldDefinition {
                key: f.key,
                label: f.label,
                r#type: match f.field_type {
                    FieldType::Text => pb::FieldType::Text,
                    FieldType::Multiline => pb::FieldType::Multiline,
                    FieldType::Number => pb::FieldType::Number,
                    FieldType::Date => pb::FieldType::Date,
                    FieldType::Dropdown => pb::FieldType::Dropdown,
                    FieldType::MultiSelect => pb::FieldType::MultiSelect,
                    FieldType::Checkbox => pb::FieldType::Checkbox,
                } as i32,
                required: f.required,
                options: f.options,
                position: f.position,
            })
            .collect(),
    }
}

pub fn definitions_from_pb(fields: Vec<pb::FieldDefinition>) -> Result<Vec<FieldDefinition>, TicketError> {
    fields
        .into_iter()
        .map(|f| {
            let field_type = match pb::FieldType::try_from(f.r#type) {
                Ok(pb::FieldType::Text) => FieldType::Text,
                Ok(pb::FieldType::Multiline) => FieldType::Multiline,
                Ok(pb::FieldType::Number) => FieldType::Number,
                Ok(pb::FieldType::Date) => FieldType::Date,
                Ok(pb::FieldType::Dropdown) => FieldType::Dropdown,
                Ok(pb::FieldType::MultiSelect) => FieldType::MultiSelect,
                Ok(pb::FieldType::Checkbox) => FieldType::Checkbox,
                _ => return Err(invalid("fields", format!("{}: has no type", f.key))),
            };
            Ok(FieldDefinition {
                key: f.key,
                label: f.label,
                field_type,
                required: f.required,
                options: f.options,
                position: f.position,
            })
        })
        .collect()
}

/// A list request as a query; agent-only queues are refused for contacts.
pub fn list_query(request: pb::ListTicketsRequest, is_staff: bool) -> Result<ListQuery, TicketError> {
    let queue = match pb::Queue::try_from(request.queue).unwrap_or(pb::Queue::Unspecified) {
        pb::Queue::Unspecified | pb::Queue::All => Queue::All,
        pb::Queue::Pending => Queue::Pending,
        pb::Queue::Completed => Queue::Completed,
        pb::Queue::Mine if is_staff => Queue::Mine,
        pb::Queue::Unassigned if is_staff => Queue::Unassigned,
        pb::Queue::Mine | pb::Queue::Unassigned => return Err(invalid("queue", "is for agents")),
    };
    let scope = match pb::Scope::try_from(request.scope) {
        Ok(pb::Scope::Group) => Scope::Group,
        _ => Scope::Own,
    };
    let sort = match pb::SortField::try_from(request.sort) {
        Ok(pb::SortField::Updated) => Sort::Updated,
        Ok(pb::SortField::Due) => Sort::Due,
        Ok(pb::SortField::Priority) => Sort::Priority,
        _ => Sort::Created,
    };
    let f = request.filter.unwrap_or_default();
    let filter = Filter {
        statuses: f.status_ids.iter().map(|s| parse_slug_id("filter.status_ids", s)).collect::<Result<_, _>>()?,
        priorities: f.priority_ids.iter().map(|p| parse_slug_id("filter.priority_ids", p)).collect::<Result<_, _>>()?,
        categories: f
            .category_ids
            .iter()
            .map(|c| Uuid::parse_str(c).map_err(|_| invalid("filter.category_ids", "is not an id")))
            .collect::<Result<_, _>>()?,
        created_after: time_from_pb("filter.created_after", f.created_after)?,
        created_before: time_from_pb("filter.created_before", f.created_before)?,
        due_after: time_from_pb("filter.due_after", f.due_after)?,
        due_before: time_from_pb("filter.due_before", f.due_before)?,
        custom_fields: values_from_pb(f.custom_fields),
        assignee: if is_staff { uuid_field("filter.assignee_id", &f.assignee_id)? } else { None },
    };
    if filter.statuses.len() + filter.priorities.len() + filter.categories.len() > 100 {
        return Err(invalid("filter", "names more than 100 values"));
    }
    let cursor = match request.page_token.as_str() {
        "" => None,
        token => Some(Cursor::decode(token, sort, request.ascending)?),
    };
    Ok(ListQuery {
        queue,
        scope,
        filter,
        sort,
        ascending: request.ascending,
        search: parse_search(&request.query)?,
        limit: page_size(request.page_size),
        cursor,
    })
}
