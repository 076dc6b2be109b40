//! Request parameter validation with Proxmox's error texts (pve-common JSONSchema.pm), so
//! clients that match on them keep working.

use std::collections::BTreeMap;

use serde_json::{Map, Number, Value};

use super::{ArraySchema, IntegerSchema, NumberSchema, ObjectSchema, Schema, StringSchema};
use crate::format::Format;

/// Parameter name → what is wrong with it.
pub type ParamErrors = BTreeMap<String, String>;

/// Validate raw parameters (strings from a form or query string, or JSON values) against
/// `schema`, returning them converted to their declared types: booleans become `true`/`false`,
/// integers numbers, a lone value for an array parameter a one-element array.
pub fn verify_object(
    schema: &ObjectSchema,
    raw: Map<String, Value>,
) -> Result<Map<String, Value>, ParamErrors> {
    let mut errors = ParamErrors::new();
    let mut out = Map::new();
    for (name, value) in raw {
        if value.is_null() {
            continue;
        }
        match schema.property(&name) {
            Some(prop) => match verify_value(&prop.schema, value) {
                Ok(v) => {
                    out.insert(name, v);
                }
                Err(msg) => {
                    errors.insert(name, msg);
                }
            },
            None if schema.additional_properties => {
                out.insert(name, value);
            }
            None => {
                errors.insert(
                    name,
                    "property is not defined in schema and the schema does not allow additional properties".into(),
                );
            }
        }
    }
    for prop in &schema.properties {
        if !prop.optional && !out.contains_key(prop.name) && !errors.contains_key(prop.name) {
            errors.insert(
                prop.name.to_string(),
                "property is missing and it is not optional".into(),
            );
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

fn type_error(schema: &Schema, value: &Value) -> String {
    let got = match value {
        Value::String(s) => s.clone(),
        Value::Array(_) => "ARRAY".to_string(),
        Value::Object(_) => "HASH".to_string(),
        other => other.to_string(),
    };
    format!("type check ('{}') failed - got '{got}'", schema.type_name())
}

/// Validate and convert one value.
pub fn verify_value(schema: &Schema, value: Value) -> Result<Value, String> {
    match schema {
        Schema::Null => Ok(Value::Null),
        Schema::Any => Ok(value),
        Schema::Boolean(_) => verify_boolean(schema, value),
        Schema::Integer(s) => verify_integer(schema, s, value),
        Schema::Number(s) => verify_number(schema, s, value),
        Schema::String(s) => verify_string(schema, s, value),
        Schema::Array(s) => verify_array(s, value),
        Schema::Object(s) => match value {
            Value::Object(map) => verify_object(s, map).map(Value::Object).map_err(|errs| {
                errs.into_iter()
                    .map(|(k, v)| format!("{k}: {v}"))
                    .collect::<Vec<_>>()
                    .join("; ")
            }),
            other => Err(type_error(schema, &other)),
        },
    }
}

fn verify_boolean(schema: &Schema, value: Value) -> Result<Value, String> {
    // Form values must be exactly 0 or 1, as Proxmox insists; JSON bodies may use true/false.
    match &value {
        Value::Bool(b) => Ok(Value::Bool(*b)),
        Value::Number(n) if n.as_i64() == Some(0) => Ok(Value::Bool(false)),
        Value::Number(n) if n.as_i64() == Some(1) => Ok(Value::Bool(true)),
        Value::String(s) if s == "0" => Ok(Value::Bool(false)),
        Value::String(s) if s == "1" => Ok(Value::Bool(true)),
        _ => Err(type_error(schema, &value)),
    }
}

fn parse_integer(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => {
            let digits = s.strip_prefix('-').unwrap_or(s);
            if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            s.parse().ok()
        }
        _ => None,
    }
}

fn verify_integer(schema: &Schema, s: &IntegerSchema, value: Value) -> Result<Value, String> {
    let n = parse_integer(&value).ok_or_else(|| type_error(schema, &value))?;
    if let Some(min) = s.minimum.filter(|min| n < *min) {
        return Err(format!("value must have a minimum value of {min}"));
    }
    if let Some(max) = s.maximum.filter(|max| n > *max) {
        return Err(format!("value must have a maximum value of {max}"));
    }
    Ok(Value::Number(n.into()))
}

fn verify_number(schema: &Schema, s: &NumberSchema, value: Value) -> Result<Value, String> {
    let n = match &value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok().filter(|f| f.is_finite()),
        _ => None,
    }
    .ok_or_else(|| type_error(schema, &value))?;
    if let Some(min) = s.minimum.filter(|min| n < *min) {
        return Err(format!("value must have a minimum value of {min}"));
    }
    if let Some(max) = s.maximum.filter(|max| n > *max) {
        return Err(format!("value must have a maximum value of {max}"));
    }
    Number::from_f64(n)
        .map(Value::Number)
        .ok_or_else(|| type_error(schema, &value))
}

fn verify_string(schema: &Schema, s: &StringSchema, value: Value) -> Result<Value, String> {
    let text = match value {
        Value::String(text) => text,
        // Perl scalars make no difference between 100 and "100"; neither do its clients.
        Value::Number(n) => n.to_string(),
        // A repeated form key (`vms=100&vms=101`, as proxmoxer sends a list) for a `-list`
        // format: joined with commas, as Proxmox does.
        Value::Array(items) if matches!(s.format, Some(Format::List { .. })) => {
            let mut parts = Vec::with_capacity(items.len());
            for item in &items {
                match item {
                    Value::String(t) => parts.push(t.clone()),
                    Value::Number(n) => parts.push(n.to_string()),
                    _ => return Err(type_error(schema, &Value::Array(items.clone()))),
                }
            }
            parts.join(",")
        }
        other => return Err(type_error(schema, &other)),
    };
    let len = text.chars().count();
    if let Some(min) = s.min_length.filter(|min| len < *min) {
        return Err(format!("value must be at least {min} characters long"));
    }
    if let Some(max) = s.max_length.filter(|max| len > *max) {
        return Err(format!("value may only be {max} characters long"));
    }
    if let Some(values) = s.enum_values {
        if !values.contains(&text.as_str()) {
            return Err(format!(
                "value '{text}' does not have a value in the enumeration '{}'",
                values.join(", ")
            ));
        }
    }
    if let Some(pattern) = &s.pattern {
        if !pattern.regex.is_match(&text) {
            return Err("value does not match the regex pattern".into());
        }
    }
    if let Some(format) = &s.format {
        format.check(&text)?;
    }
    Ok(Value::String(text))
}

fn verify_array(s: &ArraySchema, value: Value) -> Result<Value, String> {
    let items = match value {
        Value::Array(items) => items,
        single => vec![single],
    };
    items
        .into_iter()
        .map(|item| verify_value(&s.items, item))
        .collect::<Result<Vec<_>, _>>()
        .map(Value::Array)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format;
    use serde_json::json;

    fn schema() -> ObjectSchema {
        Schema::object("test")
            .required("node", Schema::string("node").format(format::NODE))
            .optional(
                "vmid",
                Schema::integer("vmid").minimum(100).maximum(999_999_999),
            )
            .optional("full", Schema::boolean("full"))
            .optional("name", Schema::string("name").max_length(5))
            .optional("mode", Schema::string("mode").enum_values(&["a", "b"]))
            .optional("cmd", Schema::array("cmd", Schema::string("item")))
    }

    fn raw(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn converts_form_strings() {
        let out = verify_object(
            &schema(),
            raw(json!({"node": "n1", "vmid": "100", "full": "1", "cmd": "ls"})),
        )
        .unwrap();
        assert_eq!(out["vmid"], json!(100));
        assert_eq!(out["full"], json!(true));
        assert_eq!(out["cmd"], json!(["ls"]));
    }

    #[test]
    fn proxmox_error_texts() {
        let errs = verify_object(
            &schema(),
            raw(json!({"vmid": "99", "full": "true", "name": "toolong", "bogus": 1, "mode": "c"})),
        )
        .unwrap_err();
        assert_eq!(errs["node"], "property is missing and it is not optional");
        assert_eq!(errs["vmid"], "value must have a minimum value of 100");
        assert_eq!(errs["full"], "type check ('boolean') failed - got 'true'");
        assert_eq!(errs["name"], "value may only be 5 characters long");
        assert!(errs["bogus"].starts_with("property is not defined in schema"));
        assert!(errs["mode"].contains("enumeration 'a, b'"));
    }

    #[test]
    fn json_booleans_and_bad_integers() {
        let out = verify_object(&schema(), raw(json!({"node": "n1", "full": false}))).unwrap();
        assert_eq!(out["full"], json!(false));
        let errs = verify_object(&schema(), raw(json!({"node": "n1", "vmid": "1e3"}))).unwrap_err();
        assert_eq!(errs["vmid"], "type check ('integer') failed - got '1e3'");
    }

    #[test]
    fn repeated_keys_of_list_formats_are_joined() {
        let list = Schema::object("t")
            .optional("vms", Schema::string("").format(format::VMID_LIST))
            .optional("node", Schema::string("").format(format::NODE));
        let out = verify_object(&list, raw(json!({"vms": ["100", 101]}))).unwrap();
        assert_eq!(out["vms"], "100,101");
        let errs = verify_object(&list, raw(json!({"vms": ["100", "x"]}))).unwrap_err();
        assert!(errs.contains_key("vms"));
        let errs = verify_object(&list, raw(json!({"node": ["a", "b"]}))).unwrap_err();
        assert!(errs["node"].contains("ARRAY"), "{errs:?}");
    }
}
