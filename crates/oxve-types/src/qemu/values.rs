//! Small helpers to move between parsed property-string values and typed fields.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::property_string::PsValues;

/// A value as it is written in a property string: booleans `1`/`0`, numbers without a
/// trailing `.0`.
pub fn to_text(value: &Value) -> String {
    match value {
        Value::Bool(b) => u8::from(*b).to_string(),
        Value::String(s) => s.clone(),
        Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => i.to_string(),
            (None, Some(f)) => fmt_number(f),
            _ => n.to_string(),
        },
        other => other.to_string(),
    }
}

/// A float the way Perl prints it for our ranges: `10`, `0.5`, `12.25`.
pub fn fmt_number(f: f64) -> String {
    format!("{f}")
}

/// Pull typed fields out of parsed values; whatever is not taken stays in `rest`.
pub struct Take(pub PsValues);

impl Take {
    pub fn string(&mut self, key: &str) -> Option<String> {
        self.0.remove(key).map(|v| to_text(&v))
    }

    pub fn boolean(&mut self, key: &str) -> Option<bool> {
        self.0.remove(key).and_then(|v| v.as_bool())
    }

    pub fn int(&mut self, key: &str) -> Option<i64> {
        self.0.remove(key).and_then(|v| v.as_i64())
    }

    pub fn number(&mut self, key: &str) -> Option<f64> {
        self.0.remove(key).and_then(|v| v.as_f64())
    }

    /// Everything not taken, as canonical text.
    pub fn rest(self) -> BTreeMap<String, String> {
        self.0
            .iter()
            .map(|(k, v)| (k.clone(), to_text(v)))
            .collect()
    }
}

/// Collect typed fields as text values for printing.
#[derive(Default)]
pub struct Put(pub PsValues);

impl Put {
    pub fn string(&mut self, key: &str, value: Option<impl ToString>) -> &mut Self {
        if let Some(v) = value {
            self.0.insert(key.to_string(), Value::String(v.to_string()));
        }
        self
    }

    pub fn boolean(&mut self, key: &str, value: Option<bool>) -> &mut Self {
        if let Some(v) = value {
            self.0.insert(key.to_string(), Value::Bool(v));
        }
        self
    }

    pub fn number(&mut self, key: &str, value: Option<f64>) -> &mut Self {
        if let Some(v) = value {
            self.0.insert(key.to_string(), Value::String(fmt_number(v)));
        }
        self
    }

    pub fn extend(&mut self, rest: &BTreeMap<String, String>) -> &mut Self {
        for (k, v) in rest {
            self.0.insert(k.clone(), Value::String(v.clone()));
        }
        self
    }
}
