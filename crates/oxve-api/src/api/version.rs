//! GET /version.

use oxve_router::{ApiMethod, HttpMethod, Permission};
use oxve_types::schema::Schema;
use serde_json::json;

use crate::env::RpcEnv;

/// The Proxmox VE release whose API oxve speaks; clients pick code paths by it.
pub const PVE_COMPAT_VERSION: &str = "8.4.1";
pub const PVE_COMPAT_RELEASE: &str = "8.4";

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![ApiMethod::new(HttpMethod::Get, "/version", "version")
        .description("API version details: the Proxmox VE release oxve is compatible with.")
        .returns(
            Schema::object("")
                .required("version", Schema::string("Compatible Proxmox VE version."))
                .required("release", Schema::string("The release."))
                .required("repoid", Schema::string("oxve build identifier."))
                .additional_properties(true),
        )
        .permission(Permission::Anybody)
        .handler(|_env, _params| async {
            Ok(json!({
                "version": PVE_COMPAT_VERSION,
                "release": PVE_COMPAT_RELEASE,
                "repoid": format!("oxve-{}", env!("CARGO_PKG_VERSION")),
                "oxve": env!("CARGO_PKG_VERSION"),
            }))
        })]
}
