//! Port forwards on NAT bridges (oxve extension).

use oxve_router::ApiMethod;
use oxve_tasks::TaskContext;

use crate::env::RpcEnv;

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    Vec::new()
}

/// Bring NAT, DHCP and forwards in line with the applied configuration.
pub async fn sync(_env: &RpcEnv, _ctx: Option<&TaskContext>) -> Result<(), String> {
    Ok(())
}
