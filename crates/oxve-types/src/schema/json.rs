//! Schemas rendered as JSON Schema (the dialect OpenAPI 3.1 uses).

use serde_json::{json, Map, Value};

use super::{ObjectSchema, Schema};

impl Schema {
    /// This schema as a JSON Schema object.
    pub fn to_json_schema(&self) -> Value {
        let mut out = Map::new();
        let mut put = |key: &str, value: Value| {
            out.insert(key.to_string(), value);
        };
        match self {
            Schema::Null => put("type", json!("null")),
            Schema::Any => {}
            Schema::Boolean(s) => {
                put("type", json!("boolean"));
                if let Some(d) = s.default {
                    put("default", json!(d));
                }
            }
            Schema::Integer(s) => {
                put("type", json!("integer"));
                if let Some(v) = s.minimum {
                    put("minimum", json!(v));
                }
                if let Some(v) = s.maximum {
                    put("maximum", json!(v));
                }
                if let Some(v) = s.default {
                    put("default", json!(v));
                }
            }
            Schema::Number(s) => {
                put("type", json!("number"));
                if let Some(v) = s.minimum {
                    put("minimum", json!(v));
                }
                if let Some(v) = s.maximum {
                    put("maximum", json!(v));
                }
            }
            Schema::String(s) => {
                put("type", json!("string"));
                if let Some(v) = s.min_length {
                    put("minLength", json!(v));
                }
                if let Some(v) = s.max_length {
                    put("maxLength", json!(v));
                }
                if let Some(p) = &s.pattern {
                    put("pattern", json!(format!("^(?:{})$", p.source)));
                }
                if let Some(f) = &s.format {
                    put("format", json!(f.name()));
                }
                if let Some(values) = s.enum_values {
                    put("enum", json!(values));
                }
                if let Some(d) = s.default {
                    put("default", json!(d));
                }
            }
            Schema::Array(s) => {
                put("type", json!("array"));
                put("items", s.items.to_json_schema());
            }
            Schema::Object(s) => return s.to_json_schema(),
        }
        let description = self.description();
        if !description.is_empty() {
            out.insert("description".into(), json!(description));
        }
        Value::Object(out)
    }
}

impl ObjectSchema {
    /// This object schema as a JSON Schema object.
    pub fn to_json_schema(&self) -> Value {
        let properties: Map<String, Value> = self
            .properties
            .iter()
            .map(|p| (p.name.to_string(), p.schema.to_json_schema()))
            .collect();
        let required: Vec<&str> = self
            .properties
            .iter()
            .filter(|p| !p.optional)
            .map(|p| p.name)
            .collect();
        let mut out = json!({
            "type": "object",
            "properties": properties,
            "additionalProperties": self.additional_properties,
        });
        if !required.is_empty() {
            out["required"] = json!(required);
        }
        if !self.description.is_empty() {
            out["description"] = json!(self.description);
        }
        out
    }
}
