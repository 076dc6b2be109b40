//! The OpenAPI 3.1 document generated from the declarations.

use std::collections::BTreeMap;

use oxve_types::schema::ObjectSchema;
use serde_json::{json, Map, Value};

use crate::{ApiMethod, HttpMethod, Permission, Router};

fn path_placeholders(path: &str) -> Vec<&str> {
    path.split('/')
        .filter_map(|s| s.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .collect()
}

fn describe_permission(p: &Permission) -> String {
    match p {
        Permission::World => "none (public)".into(),
        Permission::Anybody => "any authenticated user".into(),
        Permission::Privs { path, privs, any } => format!(
            "{} on {path}",
            privs.join(if *any { " or " } else { " and " })
        ),
        Permission::UserParamSelf => "the user itself".into(),
        Permission::UserGroup { privs } => format!("{} on a group of the user", privs.join(", ")),
        Permission::Root => "root@pam".into(),
        Permission::Or(list) => list
            .iter()
            .map(describe_permission)
            .collect::<Vec<_>>()
            .join(" or "),
        Permission::And(list) => list
            .iter()
            .map(describe_permission)
            .collect::<Vec<_>>()
            .join(" and "),
        Permission::Custom(text) => text.to_string(),
    }
}

fn operation<C>(m: &ApiMethod<C>) -> Value {
    let placeholders = path_placeholders(m.path);
    let mut parameters: Vec<Value> = placeholders
        .iter()
        .map(|name| {
            let schema = m
                .parameters
                .property(name)
                .map(|p| p.schema.to_json_schema())
                .unwrap_or_else(|| json!({"type": "string"}));
            json!({"name": name, "in": "path", "required": true, "schema": schema})
        })
        .collect();
    let rest = ObjectSchema {
        description: "",
        properties: m
            .parameters
            .properties
            .iter()
            .filter(|p| !placeholders.contains(&p.name))
            .cloned()
            .collect(),
        additional_properties: m.parameters.additional_properties,
    };
    let mut op = json!({
        "operationId": format!("{}_{}", m.method.as_str().to_lowercase(), m.path.replace(['/', '{', '}'], "_")),
        "summary": m.description,
        "description": format!("{}\n\nPermission: {}.", m.description, describe_permission(&m.permission)),
        "x-proxmox-name": m.name,
        "x-allow-token": m.allow_token,
        "responses": {
            "200": {
                "description": "Success",
                "content": {"application/json": {"schema": {
                    "type": "object",
                    "properties": {"data": m.returns.to_json_schema()},
                }}},
            },
            "400": {"description": "Parameter verification failed"},
            "401": {"description": "Authentication required"},
            "403": {"description": "Permission denied"},
        },
    });
    match m.method {
        HttpMethod::Get | HttpMethod::Delete => {
            parameters.extend(rest.properties.iter().map(|p| {
                json!({"name": p.name, "in": "query", "required": !p.optional,
                       "schema": p.schema.to_json_schema()})
            }));
        }
        HttpMethod::Post | HttpMethod::Put => {
            if !rest.properties.is_empty() || rest.additional_properties {
                let schema = rest.to_json_schema();
                op["requestBody"] = json!({"content": {
                    "application/x-www-form-urlencoded": {"schema": schema},
                    "application/json": {"schema": schema},
                }});
            }
        }
    }
    op["parameters"] = Value::Array(parameters);
    op
}

/// Build the OpenAPI document for every declared method.
pub fn openapi_document<C>(router: &Router<C>, version: &str) -> Value {
    let mut paths: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    for m in router.methods() {
        paths
            .entry(m.path)
            .or_default()
            .insert(m.method.as_str().to_lowercase(), operation(m));
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "oxve API",
            "version": version,
            "description": "Proxmox VE compatible API of oxve. Responses wrap their result in {\"data\": ...}.",
        },
        "servers": [{"url": "/api2/json"}],
        "components": {"securitySchemes": {
            "ticket": {"type": "apiKey", "in": "cookie", "name": "PVEAuthCookie"},
            "token": {"type": "apiKey", "in": "header", "name": "Authorization",
                      "description": "PVEAPIToken=USER@REALM!TOKENID=SECRET"},
        }},
        "security": [{"ticket": []}, {"token": []}],
        "paths": paths,
    })
}
