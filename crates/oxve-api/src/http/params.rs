//! Request parameters as Proxmox collects them: the query string, then a form-encoded or JSON
//! body, then the path's placeholders; a repeated key becomes an array; `_dc` is dropped.

use std::collections::BTreeMap;

use oxve_router::ApiError;
use percent_encoding::percent_decode;
use serde_json::{Map, Value};

/// Decode `a=1&b=2;c=3` (`+` is a space) into `map`, turning repeated keys into arrays.
pub fn decode_urlencoded(input: &[u8], map: &mut Map<String, Value>) {
    for pair in input.split(|b| *b == b'&' || *b == b';') {
        if pair.is_empty() {
            continue;
        }
        let (key, value) = match pair.iter().position(|b| *b == b'=') {
            Some(i) => (&pair[..i], &pair[i + 1..]),
            None => (pair, &b""[..]),
        };
        let key = decode_component(key);
        if key.is_empty() || key == "_dc" {
            continue;
        }
        insert_repeated(map, key, Value::String(decode_component(value)));
    }
}

fn decode_component(raw: &[u8]) -> String {
    let spaced: Vec<u8> = raw
        .iter()
        .map(|b| if *b == b'+' { b' ' } else { *b })
        .collect();
    percent_decode(&spaced).decode_utf8_lossy().into_owned()
}

fn insert_repeated(map: &mut Map<String, Value>, key: String, value: Value) {
    match map.get_mut(&key) {
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
        None => {
            map.insert(key, value);
        }
    }
}

/// Merge a JSON object body into `map`; the body must be an object.
pub fn merge_json_body(body: &[u8], map: &mut Map<String, Value>) -> Result<(), ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(());
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("unable to parse JSON body - {e}")))?;
    match value {
        Value::Object(obj) => {
            for (k, v) in obj {
                if k != "_dc" {
                    map.insert(k, v);
                }
            }
            Ok(())
        }
        Value::Null => Ok(()),
        _ => Err(ApiError::bad_request("JSON body must be an object")),
    }
}

fn same_value(a: &Value, b: &str) -> bool {
    match a {
        Value::String(s) => s == b,
        Value::Number(n) => n.to_string() == b,
        _ => false,
    }
}

/// Add the path's placeholder values. A body or query value for the same name must agree
/// (Ansible sends `node` and `vmid` in bodies too); a different value is a 400.
pub fn merge_path_params(
    path_params: Vec<(String, String)>,
    map: &mut Map<String, Value>,
) -> Result<(), ApiError> {
    let mut errors = BTreeMap::new();
    for (name, value) in path_params {
        match map.get(&name) {
            Some(existing) if !same_value(existing, &value) => {
                errors.insert(name, "duplicate parameter (conflicting values)".to_string());
            }
            _ => {
                map.insert(name, Value::String(value));
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::params(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_forms_like_proxmox() {
        let mut map = Map::new();
        decode_urlencoded(
            b"a=1&b=x+y%3Az;command=ls&command=-l&_dc=123&flag",
            &mut map,
        );
        assert_eq!(map["a"], json!("1"));
        assert_eq!(map["b"], json!("x y:z"));
        assert_eq!(map["command"], json!(["ls", "-l"]));
        assert_eq!(map["flag"], json!(""));
        assert!(!map.contains_key("_dc"));
    }

    #[test]
    fn path_params_must_agree() {
        let mut map = Map::new();
        map.insert("vmid".into(), json!(100));
        merge_path_params(vec![("vmid".into(), "100".into())], &mut map).unwrap();
        let err = merge_path_params(vec![("vmid".into(), "101".into())], &mut map).unwrap_err();
        assert_eq!(err.status, 400);
        assert!(err.errors.unwrap().contains_key("vmid"));
    }

    #[test]
    fn json_bodies() {
        let mut map = Map::new();
        merge_json_body(br#"{"full": true, "vmid": 100}"#, &mut map).unwrap();
        assert_eq!(map["full"], json!(true));
        assert!(merge_json_body(b"[1]", &mut map).is_err());
        assert!(merge_json_body(b"  ", &mut map).is_ok());
    }
}
