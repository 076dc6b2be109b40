//! The API path tree. Each method is declared once ([`ApiMethod`]: path, parameter schema,
//! return schema, permission, handler); the same declaration validates requests, routes them,
//! builds the CLI and the OpenAPI document.

mod error;
mod method;
mod openapi;
mod permission;
mod tree;

pub use error::ApiError;
pub use method::{
    handler, ApiMethod, ApiResponse, Handler, HandlerFuture, HttpMethod, Prerendered,
};
pub use openapi::openapi_document;
pub use permission::{fill_path, Denied, Permission, PermissionChecker};
pub use tree::{Lookup, Router};
