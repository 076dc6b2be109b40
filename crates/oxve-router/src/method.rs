//! One API method's declaration.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use oxve_types::params::Params;
use oxve_types::schema::{ObjectSchema, Schema};
use serde_json::Value;

use crate::{ApiError, Permission};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HttpMethod {
    Get,
    Post,
    Put,
    Delete,
}

impl HttpMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            HttpMethod::Get => "GET",
            HttpMethod::Post => "POST",
            HttpMethod::Put => "PUT",
            HttpMethod::Delete => "DELETE",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name.to_ascii_uppercase().as_str() {
            "GET" => Some(HttpMethod::Get),
            "POST" => Some(HttpMethod::Post),
            "PUT" => Some(HttpMethod::Put),
            "DELETE" => Some(HttpMethod::Delete),
            _ => None,
        }
    }

    /// The pvesh-style CLI verb for this method.
    pub fn cli_verb(self) -> &'static str {
        match self {
            HttpMethod::Get => "get",
            HttpMethod::Post => "create",
            HttpMethod::Put => "set",
            HttpMethod::Delete => "delete",
        }
    }
}

/// A successful result: the `data` plus the extra top-level keys some Proxmox methods send.
#[derive(Debug, Clone, Default)]
pub struct ApiResponse {
    pub data: Value,
    /// Top-level `total` (task lists and logs).
    pub total: Option<u64>,
    /// Top-level `changes` (pending network changes as a diff).
    pub changes: Option<String>,
    /// A whole response body rendered earlier and shared between requests (hot, cached
    /// reads); when set, `data` and `total` are ignored.
    pub prerendered: Option<Arc<Prerendered>>,
}

/// A rendered `{"data": ...}` body, with its gzip form made at most once.
#[derive(Debug, Default)]
pub struct Prerendered {
    /// Shared, so each response sends it without copying.
    pub body: bytes::Bytes,
    pub gzip: std::sync::OnceLock<bytes::Bytes>,
}

impl Prerendered {
    /// Render `data` in the envelope.
    pub fn new(data: &Value) -> Self {
        let body = serde_json::to_vec(&serde_json::json!({ "data": data })).unwrap_or_default();
        Prerendered {
            body: body.into(),
            gzip: Default::default(),
        }
    }
}

impl From<Value> for ApiResponse {
    fn from(data: Value) -> Self {
        ApiResponse {
            data,
            ..Default::default()
        }
    }
}

impl From<Arc<Prerendered>> for ApiResponse {
    fn from(body: Arc<Prerendered>) -> Self {
        ApiResponse {
            prerendered: Some(body),
            ..Default::default()
        }
    }
}

impl ApiResponse {
    pub fn with_total(data: Value, total: u64) -> Self {
        ApiResponse {
            data,
            total: Some(total),
            ..Default::default()
        }
    }

    /// `data` with Proxmox's top-level `changes` when there are any.
    pub fn with_changes(data: Value, changes: Option<String>) -> Self {
        ApiResponse {
            data,
            changes,
            ..Default::default()
        }
    }
}

pub type HandlerFuture = Pin<Box<dyn Future<Output = Result<ApiResponse, ApiError>> + Send>>;

/// A method's implementation, given the request context `C` and validated parameters.
pub type Handler<C> = Arc<dyn Fn(C, Params) -> HandlerFuture + Send + Sync>;

/// Wrap an async fn as a [`Handler`].
pub fn handler<C, F, Fut, R>(f: F) -> Handler<C>
where
    F: Fn(C, Params) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<R, ApiError>> + Send + 'static,
    R: Into<ApiResponse>,
{
    Arc::new(move |ctx, params| {
        let fut = f(ctx, params);
        Box::pin(async move { fut.await.map(Into::into) })
    })
}

/// The declaration of one API method.
pub struct ApiMethod<C> {
    pub method: HttpMethod,
    /// Path template below `/api2/json`, e.g. `/nodes/{node}/tasks/{upid}`.
    pub path: &'static str,
    /// Proxmox's method name (`index`, `create_ticket`, ...), used for OpenAPI operation ids.
    pub name: &'static str,
    pub description: &'static str,
    /// Parameters, including the path's `{placeholders}`.
    pub parameters: ObjectSchema,
    pub returns: Schema,
    pub permission: Permission,
    /// Proxmox's `protected`: runs with root rights on the node (informational here).
    pub protected: bool,
    /// Whether API tokens may call it (Proxmox's `allowtoken`, default yes).
    pub allow_token: bool,
    pub handler: Handler<C>,
}

impl<C> ApiMethod<C> {
    /// A new declaration with no parameters beyond the path's, returning anything, any user.
    pub fn new(method: HttpMethod, path: &'static str, name: &'static str) -> Self {
        ApiMethod {
            method,
            path,
            name,
            description: "",
            parameters: ObjectSchema::default(),
            returns: Schema::Any,
            permission: Permission::Anybody,
            protected: false,
            allow_token: true,
            handler: Arc::new(|_, _| Box::pin(async { Ok(ApiResponse::default()) })),
        }
    }

    pub fn description(mut self, text: &'static str) -> Self {
        self.description = text;
        self
    }

    pub fn parameters(mut self, schema: ObjectSchema) -> Self {
        self.parameters = schema;
        self
    }

    pub fn returns(mut self, schema: impl Into<Schema>) -> Self {
        self.returns = schema.into();
        self
    }

    pub fn permission(mut self, permission: Permission) -> Self {
        self.permission = permission;
        self
    }

    pub fn protected(mut self) -> Self {
        self.protected = true;
        self
    }

    pub fn no_token(mut self) -> Self {
        self.allow_token = false;
        self
    }

    pub fn handler<F, Fut, R>(mut self, f: F) -> Self
    where
        F: Fn(C, Params) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<R, ApiError>> + Send + 'static,
        R: Into<ApiResponse>,
    {
        self.handler = handler(f);
        self
    }
}
