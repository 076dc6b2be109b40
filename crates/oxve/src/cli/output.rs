//! Printing results: text (tables for lists of objects), json, json-pretty.

use serde_json::Value;

#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutputFormat {
    Text,
    Json,
    JsonPretty,
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

pub fn print_value(data: &Value, format: OutputFormat) {
    match format {
        OutputFormat::Json => println!("{data}"),
        OutputFormat::JsonPretty => {
            println!("{}", serde_json::to_string_pretty(data).unwrap_or_default())
        }
        OutputFormat::Text => print_text(data),
    }
}

fn print_text(data: &Value) {
    match data {
        Value::Array(items) if items.iter().all(Value::is_object) && !items.is_empty() => {
            print_table(items)
        }
        Value::Array(items) => items.iter().for_each(|i| println!("{}", scalar(i))),
        Value::Object(map) => {
            let width = map.keys().map(String::len).max().unwrap_or(0);
            for (k, v) in map {
                println!("{k:width$}  {}", scalar(v));
            }
        }
        Value::Null => {}
        other => println!("{}", scalar(other)),
    }
}

fn print_table(items: &[Value]) {
    let mut columns: Vec<String> = Vec::new();
    for item in items {
        for key in item.as_object().into_iter().flat_map(|m| m.keys()) {
            if !columns.contains(key) {
                columns.push(key.clone());
            }
        }
    }
    let rows: Vec<Vec<String>> = items
        .iter()
        .map(|item| columns.iter().map(|c| scalar(&item[c.as_str()])).collect())
        .collect();
    let widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| {
            rows.iter()
                .map(|r| r[i].len())
                .chain([c.len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:w$}"))
            .collect::<Vec<_>>()
            .join("  ")
            .trim_end()
            .to_string()
    };
    println!("{}", line(columns.iter().map(String::as_str).collect()));
    for row in &rows {
        println!("{}", line(row.iter().map(String::as_str).collect()));
    }
}
