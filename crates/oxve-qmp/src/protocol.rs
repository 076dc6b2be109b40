//! The QMP wire format: the greeting, command lines, replies and events.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The greeting QEMU sends when a client connects.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Greeting {
    /// QEMU's version.
    pub version: crate::types::VersionInfo,
    /// Optional protocol capabilities offered (`oob`).
    #[serde(default)]
    pub capabilities: Vec<String>,
}

/// When QEMU emitted an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Timestamp {
    /// Seconds since the epoch.
    pub seconds: i64,
    /// Microseconds within the second.
    pub microseconds: i64,
}

/// An asynchronous QMP event (`SHUTDOWN`, `STOP`, `RESUME`, `JOB_STATUS_CHANGE`, ...).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// The event name, e.g. `SHUTDOWN`.
    pub event: String,
    /// The event's data (`null` when it has none).
    #[serde(default)]
    pub data: Value,
    /// When QEMU emitted it.
    #[serde(default)]
    pub timestamp: Timestamp,
}

impl Event {
    /// Decodes the event's data into one of the typed event structs of [`crate::events`].
    pub fn data_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.data)
    }

    /// True when this is the event `name`.
    pub fn is(&self, name: &str) -> bool {
        self.event == name
    }
}

/// A command as written on the wire.
#[derive(Debug, Serialize)]
pub(crate) struct CommandLine<'a> {
    pub execute: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arguments: Option<Value>,
    pub id: u64,
}

/// An error reply's body.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct ErrorBody {
    pub class: String,
    #[serde(default)]
    pub desc: String,
}

/// One line received from QEMU.
#[derive(Debug)]
pub(crate) enum Incoming {
    Greeting(Greeting),
    Return { id: Option<Value>, value: Value },
    Error { id: Option<Value>, error: ErrorBody },
    Event(Event),
    Unknown(Value),
}

impl Incoming {
    /// Classifies a received line; `Err` when it is not a JSON object at all.
    pub fn parse(line: &[u8]) -> Result<Incoming, serde_json::Error> {
        let mut value: Value = serde_json::from_slice(line)?;
        let Some(obj) = value.as_object_mut() else {
            return Ok(Incoming::Unknown(value));
        };
        if let Some(greeting) = obj.get("QMP") {
            return Ok(match Greeting::deserialize(greeting) {
                Ok(g) => Incoming::Greeting(g),
                Err(_) => Incoming::Unknown(value),
            });
        }
        if obj.contains_key("event") {
            return Ok(match Event::deserialize(&value) {
                Ok(e) => Incoming::Event(e),
                Err(_) => Incoming::Unknown(value),
            });
        }
        let id = obj.remove("id");
        if let Some(ret) = obj.remove("return") {
            return Ok(Incoming::Return { id, value: ret });
        }
        if let Some(err) = obj.get("error") {
            if let Ok(error) = ErrorBody::deserialize(err) {
                return Ok(Incoming::Error { id, error });
            }
        }
        if let Some(id) = id {
            obj.insert("id".into(), id);
        }
        Ok(Incoming::Unknown(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_kind_of_line() {
        let g = br#"{"QMP": {"version": {"qemu": {"micro": 2, "minor": 0, "major": 10}, "package": "Debian"}, "capabilities": ["oob"]}}"#;
        match Incoming::parse(g).unwrap() {
            Incoming::Greeting(g) => {
                assert_eq!(g.version.qemu.major, 10);
                assert_eq!(g.capabilities, vec!["oob".to_string()]);
            }
            other => panic!("{other:?}"),
        }
        match Incoming::parse(br#"{"return": {}, "id": 7}"#).unwrap() {
            Incoming::Return { id, value } => {
                assert_eq!(id, Some(Value::from(7)));
                assert_eq!(value, serde_json::json!({}));
            }
            other => panic!("{other:?}"),
        }
        match Incoming::parse(br#"{"error": {"class": "GenericError", "desc": "no"}, "id": 8}"#)
            .unwrap()
        {
            Incoming::Error { id, error } => {
                assert_eq!(id, Some(Value::from(8)));
                assert_eq!(error.class, "GenericError");
                assert_eq!(error.desc, "no");
            }
            other => panic!("{other:?}"),
        }
        let ev = br#"{"timestamp": {"seconds": 1, "microseconds": 2}, "event": "SHUTDOWN", "data": {"guest": true, "reason": "guest-shutdown"}}"#;
        match Incoming::parse(ev).unwrap() {
            Incoming::Event(e) => {
                assert!(e.is("SHUTDOWN"));
                assert_eq!(e.timestamp.microseconds, 2);
                let d: crate::events::Shutdown = e.data_as().unwrap();
                assert!(d.guest);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            Incoming::parse(br#"{"something": 1}"#).unwrap(),
            Incoming::Unknown(_)
        ));
        assert!(Incoming::parse(b"not json").is_err());
    }

    #[test]
    fn command_lines_omit_missing_arguments() {
        let line = CommandLine {
            execute: "stop",
            arguments: None,
            id: 3,
        };
        assert_eq!(
            serde_json::to_string(&line).unwrap(),
            r#"{"execute":"stop","id":3}"#
        );
    }
}
