//! The JSON envelope: `{"data": ...}` on success; on error the status code, the message as
//! reason phrase and in `message`, and `errors` for parameter errors only.

use axum::body::Body;
use axum::http::{header, HeaderValue, Response, StatusCode};
use hyper::ext::ReasonPhrase;
use oxve_router::{ApiError, ApiResponse};
use serde_json::{json, Value};

const JSON: &str = "application/json;charset=UTF-8";

fn json_response(status: StatusCode, body: impl Into<Body>) -> Response<Body> {
    let mut resp = Response::new(body.into());
    *resp.status_mut() = status;
    resp.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(JSON));
    resp
}

/// Render a successful result; a prerendered (cached) body is sent gzip-compressed when the
/// client accepts it, compressed once per cached body.
pub fn success(result: ApiResponse, accepts_gzip: bool) -> Response<Body> {
    if let Some(pre) = result.prerendered {
        if accepts_gzip && pre.body.len() > GZIP_MIN {
            let gz = pre.gzip.get_or_init(|| gzip(&pre.body).into()).clone();
            let mut resp = json_response(StatusCode::OK, gz);
            resp.headers_mut()
                .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
            return resp;
        }
        return json_response(StatusCode::OK, pre.body.clone());
    }
    let mut body = json!({ "data": result.data });
    if let Some(total) = result.total {
        body["total"] = Value::from(total);
    }
    if let Some(changes) = result.changes {
        body["changes"] = Value::from(changes);
    }
    json_response(
        StatusCode::OK,
        serde_json::to_vec(&body).unwrap_or_default(),
    )
}

/// Bodies smaller than this are not worth compressing.
const GZIP_MIN: usize = 16 * 1024;

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

/// Render an error.
pub fn error(err: &ApiError) -> Response<Body> {
    let status = StatusCode::from_u16(err.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut message = err.message.clone();
    if !message.ends_with('\n') {
        message.push('\n');
    }
    let mut body = json!({ "data": null, "message": message });
    if let Some(errors) = &err.errors {
        body["errors"] = json!(errors);
    }
    let mut resp = json_response(status, serde_json::to_vec(&body).unwrap_or_default());
    // Clients (proxmoxer, bpg) read the reason phrase, so it carries the message's first line.
    let reason: Vec<u8> = err
        .reason()
        .bytes()
        .map(|b| {
            if b == b'\t' || (0x20..0x7f).contains(&b) {
                b
            } else {
                b'?'
            }
        })
        .take(200)
        .collect();
    if let Ok(reason) = ReasonPhrase::try_from(reason) {
        resp.extensions_mut().insert(reason);
    }
    resp
}
