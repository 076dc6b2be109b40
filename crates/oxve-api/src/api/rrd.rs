//! `.../rrddata`: the history of a node, guest or storage as Proxmox serves it — one object per
//! point (`time` plus every known value), for a `timeframe` and a consolidation function `cf`.
//! The daemon's sampler ([`crate::rrd_sampler`]) records the figures.

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_rrd::{Cf, Fetched, Timeframe};
use oxve_types::params::Params;
use oxve_types::schema::{ObjectSchema, Schema};
use serde_json::{Map, Value};

use super::common::{local_node, node_param};
use super::qemu::vmid_param;
use super::storage::storage_param;
use crate::env::RpcEnv;

const TIMEFRAMES: &[&str] = &["hour", "day", "week", "month", "year"];
const NODE_TIMEFRAMES: &[&str] = &["hour", "day", "week", "month", "year", "decade"];

fn params(timeframes: &'static [&'static str]) -> ObjectSchema {
    Schema::object("")
        .required("node", node_param())
        .required(
            "timeframe",
            Schema::string("Specify the time frame you are interested in.").enum_values(timeframes),
        )
        .optional(
            "cf",
            Schema::string("The RRD consolidation function").enum_values(&["AVERAGE", "MAX"]),
        )
}

fn returns() -> Schema {
    Schema::array("", Schema::object("").additional_properties(true)).into()
}

/// The points as Proxmox returns them: unknown values left out.
pub fn render(fetched: &Fetched) -> Value {
    let points = fetched
        .points
        .iter()
        .map(|(time, values)| {
            let mut obj = Map::with_capacity(values.len() + 1);
            obj.insert("time".into(), Value::from(*time));
            for (name, v) in fetched.sources.iter().zip(values) {
                if let Some(v) = v {
                    obj.insert(name.clone(), Value::from(*v));
                }
            }
            Value::Object(obj)
        })
        .collect();
    Value::Array(points)
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The points of series `key`; an empty list when nothing was recorded for it.
fn fetch(env: &RpcEnv, params: &Params, key: &str) -> Result<Value, ApiError> {
    local_node(env, params.req_str("node"))?;
    let tf: Timeframe = params
        .req_str("timeframe")
        .parse()
        .map_err(|e: String| ApiError::param("timeframe", e))?;
    let cf: Cf = params
        .str("cf")
        .unwrap_or("AVERAGE")
        .parse()
        .map_err(|e: String| ApiError::param("cf", e))?;
    Ok(env
        .state
        .rrd
        .fetch(key, tf, cf, now())
        .map_or_else(|| Value::Array(Vec::new()), |f| render(&f)))
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Get, "/nodes/{node}/rrddata", "rrddata")
            .description("Read node RRD statistics")
            .parameters(params(NODE_TIMEFRAMES))
            .returns(returns())
            .permission(Permission::Privs {
                path: "/nodes/{node}",
                privs: &["Sys.Audit"],
                any: false,
            })
            .handler(|env: RpcEnv, params| async move {
                let key = format!("node/{}", env.state.node);
                fetch(&env, &params, &key)
            }),
        ApiMethod::new(
            HttpMethod::Get,
            "/nodes/{node}/qemu/{vmid}/rrddata",
            "rrddata",
        )
        .description("Read VM RRD statistics")
        .parameters(params(TIMEFRAMES).required("vmid", vmid_param()))
        .returns(returns())
        .permission(Permission::Privs {
            path: "/vms/{vmid}",
            privs: &["VM.Audit"],
            any: false,
        })
        .handler(|env: RpcEnv, params| async move {
            let key = format!("qemu/{}", params.int("vmid").unwrap_or_default());
            fetch(&env, &params, &key)
        }),
        ApiMethod::new(
            HttpMethod::Get,
            "/nodes/{node}/lxc/{vmid}/rrddata",
            "rrddata",
        )
        .description("Read container RRD statistics")
        .parameters(params(TIMEFRAMES).required("vmid", vmid_param()))
        .returns(returns())
        .permission(Permission::Privs {
            path: "/vms/{vmid}",
            privs: &["VM.Audit"],
            any: false,
        })
        .handler(|env: RpcEnv, params| async move {
            let key = format!("lxc/{}", params.int("vmid").unwrap_or_default());
            fetch(&env, &params, &key)
        }),
        ApiMethod::new(
            HttpMethod::Get,
            "/nodes/{node}/storage/{storage}/rrddata",
            "rrddata",
        )
        .description("Read storage RRD statistics.")
        .parameters(params(TIMEFRAMES).required("storage", storage_param()))
        .returns(returns())
        .permission(Permission::Privs {
            path: "/storage/{storage}",
            privs: &["Datastore.Audit", "Datastore.AllocateSpace"],
            any: true,
        })
        .handler(|env: RpcEnv, params| async move {
            let key = format!("storage/{}/{}", env.state.node, params.req_str("storage"));
            fetch(&env, &params, &key)
        }),
    ]
}
