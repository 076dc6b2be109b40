//! Parameter and return schemas, modelled on Proxmox's JSON schema dialect
//! (pve-common `PVE::JSONSchema`): the same declaration validates requests, documents the
//! API (OpenAPI) and drives the CLI.

mod json;
mod verify;

pub use verify::{verify_object, verify_value, ParamErrors};

use regex::Regex;
use std::sync::Arc;

use crate::format::Format;

/// A schema for one value.
#[derive(Clone, Debug)]
pub enum Schema {
    Null,
    Boolean(BooleanSchema),
    Integer(IntegerSchema),
    Number(NumberSchema),
    String(StringSchema),
    Array(ArraySchema),
    Object(ObjectSchema),
    /// Anything (used for loosely described returns).
    Any,
}

#[derive(Clone, Debug, Default)]
pub struct BooleanSchema {
    pub description: &'static str,
    pub default: Option<bool>,
}

#[derive(Clone, Debug, Default)]
pub struct IntegerSchema {
    pub description: &'static str,
    pub minimum: Option<i64>,
    pub maximum: Option<i64>,
    pub default: Option<i64>,
}

#[derive(Clone, Debug, Default)]
pub struct NumberSchema {
    pub description: &'static str,
    pub minimum: Option<f64>,
    pub maximum: Option<f64>,
    pub default: Option<f64>,
}

#[derive(Clone, Debug, Default)]
pub struct StringSchema {
    pub description: &'static str,
    pub min_length: Option<usize>,
    pub max_length: Option<usize>,
    pub pattern: Option<Pattern>,
    pub format: Option<Format>,
    pub enum_values: Option<&'static [&'static str]>,
    pub default: Option<&'static str>,
}

/// A compiled, anchored regex together with its source (for docs).
#[derive(Clone, Debug)]
pub struct Pattern {
    pub source: &'static str,
    pub regex: Arc<Regex>,
}

impl Pattern {
    /// Compile `source`, anchored at both ends as Proxmox anchors its patterns.
    /// Panics on an invalid regex: patterns are compile-time constants of the API.
    pub fn new(source: &'static str) -> Self {
        let regex = Regex::new(&format!("^(?:{source})$")).expect("invalid schema pattern");
        Pattern {
            source,
            regex: Arc::new(regex),
        }
    }
}

#[derive(Clone, Debug)]
pub struct ArraySchema {
    pub description: &'static str,
    pub items: Box<Schema>,
}

/// One named property of an object schema.
#[derive(Clone, Debug)]
pub struct Property {
    pub name: &'static str,
    pub schema: Schema,
    pub optional: bool,
}

#[derive(Clone, Debug, Default)]
pub struct ObjectSchema {
    pub description: &'static str,
    pub properties: Vec<Property>,
    pub additional_properties: bool,
}

impl Schema {
    pub fn boolean(description: &'static str) -> BooleanSchema {
        BooleanSchema {
            description,
            default: None,
        }
    }

    pub fn integer(description: &'static str) -> IntegerSchema {
        IntegerSchema {
            description,
            ..Default::default()
        }
    }

    pub fn number(description: &'static str) -> NumberSchema {
        NumberSchema {
            description,
            ..Default::default()
        }
    }

    pub fn string(description: &'static str) -> StringSchema {
        StringSchema {
            description,
            ..Default::default()
        }
    }

    pub fn array(description: &'static str, items: impl Into<Schema>) -> ArraySchema {
        ArraySchema {
            description,
            items: Box::new(items.into()),
        }
    }

    pub fn object(description: &'static str) -> ObjectSchema {
        ObjectSchema {
            description,
            ..Default::default()
        }
    }

    pub fn description(&self) -> &'static str {
        match self {
            Schema::Null | Schema::Any => "",
            Schema::Boolean(s) => s.description,
            Schema::Integer(s) => s.description,
            Schema::Number(s) => s.description,
            Schema::String(s) => s.description,
            Schema::Array(s) => s.description,
            Schema::Object(s) => s.description,
        }
    }

    /// Proxmox's type name, used in error messages ("type check ('integer') failed").
    pub fn type_name(&self) -> &'static str {
        match self {
            Schema::Null => "null",
            Schema::Boolean(_) => "boolean",
            Schema::Integer(_) => "integer",
            Schema::Number(_) => "number",
            Schema::String(_) => "string",
            Schema::Array(_) => "array",
            Schema::Object(_) => "object",
            Schema::Any => "any",
        }
    }
}

impl BooleanSchema {
    pub fn default(mut self, value: bool) -> Self {
        self.default = Some(value);
        self
    }
}

impl IntegerSchema {
    pub fn minimum(mut self, value: i64) -> Self {
        self.minimum = Some(value);
        self
    }
    pub fn maximum(mut self, value: i64) -> Self {
        self.maximum = Some(value);
        self
    }
    pub fn default(mut self, value: i64) -> Self {
        self.default = Some(value);
        self
    }
}

impl NumberSchema {
    pub fn minimum(mut self, value: f64) -> Self {
        self.minimum = Some(value);
        self
    }
    pub fn maximum(mut self, value: f64) -> Self {
        self.maximum = Some(value);
        self
    }
}

impl StringSchema {
    pub fn min_length(mut self, value: usize) -> Self {
        self.min_length = Some(value);
        self
    }
    pub fn max_length(mut self, value: usize) -> Self {
        self.max_length = Some(value);
        self
    }
    pub fn pattern(mut self, source: &'static str) -> Self {
        self.pattern = Some(Pattern::new(source));
        self
    }
    pub fn format(mut self, format: Format) -> Self {
        self.format = Some(format);
        self
    }
    pub fn enum_values(mut self, values: &'static [&'static str]) -> Self {
        self.enum_values = Some(values);
        self
    }
    pub fn default(mut self, value: &'static str) -> Self {
        self.default = Some(value);
        self
    }
}

impl ObjectSchema {
    /// Add a required property.
    pub fn required(mut self, name: &'static str, schema: impl Into<Schema>) -> Self {
        self.properties.push(Property {
            name,
            schema: schema.into(),
            optional: false,
        });
        self
    }

    /// Add an optional property.
    pub fn optional(mut self, name: &'static str, schema: impl Into<Schema>) -> Self {
        self.properties.push(Property {
            name,
            schema: schema.into(),
            optional: true,
        });
        self
    }

    /// Allow properties not declared here (used for returns and config objects).
    pub fn additional_properties(mut self, allow: bool) -> Self {
        self.additional_properties = allow;
        self
    }

    pub fn property(&self, name: &str) -> Option<&Property> {
        self.properties.iter().find(|p| p.name == name)
    }
}

macro_rules! into_schema {
    ($($ty:ident => $variant:ident),*) => {
        $(impl From<$ty> for Schema {
            fn from(s: $ty) -> Schema {
                Schema::$variant(s)
            }
        })*
    };
}
into_schema!(
    BooleanSchema => Boolean,
    IntegerSchema => Integer,
    NumberSchema => Number,
    StringSchema => String,
    ArraySchema => Array,
    ObjectSchema => Object
);
