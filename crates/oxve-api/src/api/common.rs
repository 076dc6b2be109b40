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
