//! Schemas and helpers shared by several paths.

use oxve_router::ApiError;
use oxve_types::format;
use oxve_types::schema::{Schema, StringSchema};

use crate::env::RpcEnv;

pub fn node_param() -> StringSchema {
    Schema::string("The cluster node name.").format(format::NODE)
}

/// Refuse a `{node}` that is not this node (clusters will proxy instead).
pub fn local_node(env: &RpcEnv, node: &str) -> Result<(), ApiError> {
    if env.state.is_local_node(node) {
        Ok(())
    } else {
        Err(ApiError::internal(format!("no such node '{node}'")))
    }
}

/// Current Unix time in seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}
