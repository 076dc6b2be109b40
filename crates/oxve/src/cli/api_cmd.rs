//! `oxve api get|create|set|delete|ls|usage PATH [--param value ...]`, like pvesh. The
//! parameters are checked against the same declarations the daemon uses before sending.

use anyhow::{anyhow, bail};
use oxve_router::{HttpMethod, Lookup, Router};
use oxve_types::schema::verify_object;
use serde_json::{Map, Value};

use super::output::{print_value, OutputFormat};
use super::{Client, ConnectArgs};

#[derive(clap::Args)]
pub struct ApiArgs {
    /// get, create, set, delete, ls or usage.
    pub verb: String,
    /// API path, e.g. /nodes or /access/users/admin@pve.
    pub path: String,
    /// Output: text, json or json-pretty.
    #[arg(long, value_enum, default_value = "text")]
    pub output_format: OutputFormat,
    #[command(flatten)]
    pub connect: ConnectArgs,
    /// Method parameters as `--name value` or `--name=value` (repeat for lists).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, num_args = 0..)]
    pub params: Vec<String>,
}

/// Split `--name value` / `--name=value` arguments into pairs; `--flag` alone means 1.
pub fn parse_param_args(args: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut it = args.iter().peekable();
    while let Some(arg) = it.next() {
        let name = arg
            .strip_prefix("--")
            .or_else(|| arg.strip_prefix('-'))
            .ok_or_else(|| anyhow!("unexpected argument '{arg}': parameters are --name value"))?;
        if let Some((name, value)) = name.split_once('=') {
            out.push((name.to_string(), value.to_string()));
        } else {
            let value = match it.peek() {
                Some(next) if !next.starts_with("--") => it.next().cloned().unwrap_or_default(),
                _ => "1".to_string(),
            };
            out.push((name.to_string(), value));
        }
    }
    Ok(out)
}

fn verb_method(verb: &str) -> Option<HttpMethod> {
    match verb {
        "get" | "ls" => Some(HttpMethod::Get),
        "create" => Some(HttpMethod::Post),
        "set" => Some(HttpMethod::Put),
        "delete" => Some(HttpMethod::Delete),
        _ => None,
    }
}

/// Check parameters against the method's declaration, as the daemon will.
fn check_params(
    router: &Router<oxve_api::RpcEnv>,
    method: HttpMethod,
    path: &str,
    params: &[(String, String)],
) -> anyhow::Result<()> {
    let Lookup::Found {
        method: decl,
        path_params,
    } = router.lookup(method, path)
    else {
        return Ok(()); // the daemon answers unknown paths itself
    };
    let mut raw = Map::new();
    for (k, v) in params {
        match raw.get_mut(k) {
            Some(Value::Array(items)) => items.push(Value::String(v.clone())),
            Some(existing) => {
                let first = existing.take();
                *existing = Value::Array(vec![first, Value::String(v.clone())]);
            }
            None => {
                raw.insert(k.clone(), Value::String(v.clone()));
            }
        }
    }
    for (k, v) in path_params {
        raw.insert(k, Value::String(v));
    }
    if let Err(errors) = verify_object(&decl.parameters, raw) {
        let lines: Vec<String> = errors.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        bail!("parameter verification failed\n{}", lines.join("\n"));
    }
    Ok(())
}

fn usage(router: &Router<oxve_api::RpcEnv>, path: &str) -> anyhow::Result<()> {
    let mut found = false;
    for method in [
        HttpMethod::Get,
        HttpMethod::Post,
        HttpMethod::Put,
        HttpMethod::Delete,
    ] {
        if let Lookup::Found {
            method: decl,
            path_params,
        } = router.lookup(method, path)
        {
            found = true;
            println!("oxve api {} {}", method.cli_verb(), decl.path);
            println!("  {}", decl.description);
            for prop in &decl.parameters.properties {
                if path_params.iter().any(|(k, _)| k == prop.name) {
                    continue;
                }
                let opt = if prop.optional { " (optional)" } else { "" };
                println!(
                    "  --{} <{}>{opt}  {}",
                    prop.name,
                    prop.schema.type_name(),
                    prop.schema.description()
                );
            }
            println!();
        }
    }
    if !found {
        bail!("no API method at {path}");
    }
    Ok(())
}

pub async fn run(args: ApiArgs) -> anyhow::Result<()> {
    let router = oxve_api::api::router();
    if args.verb == "usage" {
        return usage(&router, &args.path);
    }
    let method = verb_method(&args.verb).ok_or_else(|| {
        anyhow!(
            "unknown verb '{}': use get, create, set, delete, ls or usage",
            args.verb
        )
    })?;
    let params = parse_param_args(&args.params)?;
    check_params(&router, method, &args.path, &params)?;
    let client = Client::connect(&args.connect).await?;
    let data = client.call(method, &args.path, &params).await?;
    if args.verb == "ls" {
        if let Value::Array(items) = &data {
            for item in items {
                let name = ["name", "subdir", "id", "node", "userid"]
                    .iter()
                    .find_map(|k| item.get(*k))
                    .map(|v| {
                        v.as_str()
                            .map(str::to_string)
                            .unwrap_or_else(|| v.to_string())
                    })
                    .unwrap_or_else(|| item.to_string());
                println!("{name}");
            }
            return Ok(());
        }
    }
    print_value(&data, args.output_format);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_param_forms() {
        let args: Vec<String> = ["--a", "1", "--b=x=y", "--flag", "--c", "-5"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let p = parse_param_args(&args).unwrap();
        assert_eq!(p[0], ("a".into(), "1".into()));
        assert_eq!(p[1], ("b".into(), "x=y".into()));
        assert_eq!(p[2], ("flag".into(), "1".into()));
        assert_eq!(p[3], ("c".into(), "-5".into()));
        assert!(parse_param_args(&["x".to_string()]).is_err());
    }
}
