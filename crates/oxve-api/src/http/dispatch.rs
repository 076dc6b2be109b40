//! One API request, from path lookup to the rendered response: authenticate, collect and
//! validate parameters, check the declared permission, run the handler.

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, Method, Response};
use oxve_auth::Authid;
use oxve_router::{ApiError, ApiResponse, HttpMethod, Lookup};
use oxve_types::params::Params;
use oxve_types::schema::verify_object;
use serde_json::{json, Map, Value};

use super::credentials::{self, Credential};
use super::upload::UploadedFile;
use super::{params, permissions::CallerPermissions, response, ApiServer};
use crate::env::RpcEnv;

/// How the request reached us.
#[derive(Debug, Clone, Copy)]
pub enum Transport {
    /// HTTPS from a network client.
    Tls { client: IpAddr },
    /// The root-only unix socket on the node: the caller is root@pam.
    LocalSocket,
}

impl Transport {
    fn client(self) -> Option<IpAddr> {
        match self {
            Transport::Tls { client } => Some(client),
            Transport::LocalSocket => None,
        }
    }
}

/// The parts of an HTTP request the API looks at.
pub struct ApiRequest<'a> {
    pub method: &'a Method,
    /// Path below `/api2/json`.
    pub path: &'a str,
    pub query: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: Bytes,
}

pub async fn dispatch(
    server: &ApiServer,
    transport: Transport,
    req: ApiRequest<'_>,
) -> Response<Body> {
    dispatch_with_upload(server, transport, req, None).await
}

/// Dispatch a request that carries an uploaded file (the upload path of storages).
pub async fn dispatch_with_upload(
    server: &ApiServer,
    transport: Transport,
    req: ApiRequest<'_>,
    upload: Option<Arc<UploadedFile>>,
) -> Response<Body> {
    let gzip = accepts_gzip(req.headers);
    match call(server, transport, req, upload).await {
        Ok(result) => response::success(result, gzip),
        Err(err) => response::error(&err),
    }
}

/// Runs a request through authentication, validation, the permission check and its handler,
/// and returns the handler's result unrendered (the websocket upgrade only needs the verdict).
pub async fn call(
    server: &ApiServer,
    transport: Transport,
    req: ApiRequest<'_>,
    upload: Option<Arc<UploadedFile>>,
) -> Result<ApiResponse, ApiError> {
    // Proxmox does not ask uploads for a CSRF token (browser form posts).
    let csrf_exempt = upload.is_some();
    let not_implemented = || ApiError::not_implemented(req.method.as_str(), req.path);
    let method = HttpMethod::parse(req.method.as_str()).ok_or_else(not_implemented)?;
    let (api_method, path_params) = match server.router.lookup(method, req.path) {
        Lookup::Found {
            method,
            path_params,
        } => (method, path_params),
        Lookup::Index(children) => {
            authenticate(server, transport, method, req.headers, false).await?;
            let list: Vec<Value> = children.iter().map(|c| json!({ "name": c })).collect();
            return Ok(Value::Array(list).into());
        }
        Lookup::NotFound => return Err(not_implemented()),
    };

    let auth_id = if api_method.permission.needs_auth() {
        let auth_id = authenticate(server, transport, method, req.headers, csrf_exempt).await?;
        if auth_id.is_token() && !api_method.allow_token {
            return Err(ApiError::forbidden(format!(
                "URI '/api2/json{}' not available with API token, need proper ticket.",
                req.path
            )));
        }
        Some(auth_id)
    } else {
        None
    };

    let raw = collect_params(&req, path_params)?;
    let verified = verify_object(&api_method.parameters, raw).map_err(ApiError::params)?;
    let params = Params::new(verified);

    if let Some(auth_id) = &auth_id {
        let checker = CallerPermissions::new(&server.state, auth_id).await?;
        api_method
            .permission
            .check(&checker, &params)
            .map_err(|denied| ApiError::permission_check_failed(&denied.path, &denied.privs))?;
    }

    let env = RpcEnv {
        state: Arc::clone(&server.state),
        auth_id,
        client: transport.client(),
        upload,
    };
    (api_method.handler)(env, params).await
}

fn collect_params(
    req: &ApiRequest<'_>,
    path_params: Vec<(String, String)>,
) -> Result<Map<String, Value>, ApiError> {
    let mut raw = Map::new();
    if let Some(query) = req.query {
        params::decode_urlencoded(query.as_bytes(), &mut raw);
    }
    if !req.body.is_empty() {
        let content_type = req
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("application/x-www-form-urlencoded");
        if content_type.starts_with("application/json") {
            params::merge_json_body(&req.body, &mut raw)?;
        } else {
            params::decode_urlencoded(&req.body, &mut raw);
        }
    }
    params::merge_path_params(path_params, &mut raw)?;
    Ok(raw)
}

/// Check the credentials of an upload before its body is read.
pub async fn authenticate_upload(
    server: &ApiServer,
    transport: Transport,
    headers: &HeaderMap,
) -> Result<Authid, ApiError> {
    authenticate(server, transport, HttpMethod::Post, headers, true).await
}

/// Establish who is calling; CSRF protection applies to ticket auth on changing methods.
async fn authenticate(
    server: &ApiServer,
    transport: Transport,
    method: HttpMethod,
    headers: &HeaderMap,
    csrf_exempt: bool,
) -> Result<Authid, ApiError> {
    if let Transport::LocalSocket = transport {
        return Ok(Authid::root());
    }
    let access = &server.state.access;
    match credentials::extract(headers) {
        Credential::Token(header) => access
            .verify_api_token(&header)
            .await
            .map_err(|_| ApiError::unauthorized("invalid token value!")),
        Credential::Ticket(ticket) => {
            let userid = access
                .verify_ticket(&ticket)
                .await
                .map_err(|_| ApiError::unauthorized("invalid ticket"))?;
            if method != HttpMethod::Get && !csrf_exempt {
                let token = credentials::csrf_token(headers).ok_or_else(|| {
                    ApiError::unauthorized("Permission denied - invalid csrf token")
                })?;
                access.verify_csrf(&userid, token).await.map_err(|_| {
                    ApiError::unauthorized("Permission denied - invalid csrf token")
                })?;
            }
            Ok(Authid::from(userid))
        }
        Credential::None => Err(ApiError::unauthorized("No ticket")),
    }
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|enc| enc.trim().starts_with("gzip")))
}
