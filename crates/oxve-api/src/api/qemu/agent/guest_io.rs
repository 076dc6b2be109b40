//! Agent endpoints that move data: `exec` + `exec-status`, `file-read`, `file-write`,
//! `set-user-password` (Proxmox's shapes: `{pid}`, decoded output, `{content, truncated}`).

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_types::schema::Schema;
use serde_json::{json, Value};

use super::{agent_cmd, agent_error, vm_params, vmid_of};
use crate::env::RpcEnv;

/// The most `file-read` returns (Proxmox's limit), and what one agent read asks for.
const MAX_READ: i64 = 16 * 1024 * 1024;
const READ_CHUNK: i64 = 1024 * 1024;

/// Base64 output of the agent as text (lossy UTF-8, as Proxmox decodes it).
fn decode_text(b64: &str) -> Option<String> {
    B64.decode(b64)
        .ok()
        .map(|b| String::from_utf8_lossy(&b).into_owned())
}

async fn exec(
    env: &RpcEnv,
    vmid: u32,
    command: &[String],
    input: Option<&str>,
) -> Result<Value, ApiError> {
    let Some((path, args)) = command.split_first() else {
        return Err(ApiError::param("command", "no command specified"));
    };
    let mut a = json!({ "path": path, "arg": args, "capture-output": true });
    if let Some(input) = input {
        a["input-data"] = json!(B64.encode(input));
    }
    agent_cmd(env, vmid, "exec", Some(a)).await
}

async fn exec_status(env: &RpcEnv, vmid: u32, pid: i64) -> Result<Value, ApiError> {
    let mut res = agent_cmd(env, vmid, "exec-status", Some(json!({ "pid": pid }))).await?;
    for key in ["out-data", "err-data"] {
        if let Some(text) = res.get(key).and_then(Value::as_str).and_then(decode_text) {
            res[key] = json!(text);
        }
    }
    Ok(res)
}

async fn file_read(
    env: &RpcEnv,
    vmid: u32,
    file: &str,
    offset: i64,
    count: i64,
    decode: bool,
) -> Result<Value, ApiError> {
    let mut session = open_session(env, vmid).await?;
    let handle = session
        .execute(
            "guest-file-open",
            Some(json!({ "path": file, "mode": "r" })),
        )
        .await
        .map_err(agent_error)?;
    let mut data = Vec::new();
    let mut truncated = false;
    let read = async {
        if offset > 0 {
            let to = json!({ "handle": handle, "offset": offset, "whence": "set" });
            session.execute("guest-file-seek", Some(to)).await?;
        }
        loop {
            let want = (count - data.len() as i64).min(READ_CHUNK);
            if want <= 0 {
                // Anything left? Then the content is cut short.
                let more = session
                    .execute(
                        "guest-file-read",
                        Some(json!({ "handle": handle, "count": 1 })),
                    )
                    .await?;
                truncated = more["count"].as_i64().unwrap_or(0) > 0;
                break;
            }
            let chunk = session
                .execute(
                    "guest-file-read",
                    Some(json!({ "handle": handle, "count": want })),
                )
                .await?;
            if let Some(b) = chunk["buf-b64"].as_str().and_then(|s| B64.decode(s).ok()) {
                data.extend_from_slice(&b);
            }
            if chunk["eof"].as_bool().unwrap_or(true) || chunk["count"].as_i64().unwrap_or(0) == 0 {
                break;
            }
        }
        Ok::<(), oxve_qemu::AgentError>(())
    }
    .await;
    // Always close the handle, even when reading failed.
    let closed = session
        .execute("guest-file-close", Some(json!({ "handle": handle })))
        .await;
    read.map_err(agent_error)?;
    closed.map_err(agent_error)?;
    let content = if decode {
        String::from_utf8_lossy(&data).into_owned()
    } else {
        B64.encode(&data)
    };
    let mut out = json!({ "content": content });
    if truncated {
        out["truncated"] = json!(true);
    }
    Ok(out)
}

async fn file_write(
    env: &RpcEnv,
    vmid: u32,
    file: &str,
    content: &str,
    encode: bool,
) -> Result<(), ApiError> {
    let b64 = if encode {
        B64.encode(content)
    } else {
        if B64.decode(content).is_err() {
            return Err(ApiError::param("content", "content is not valid base64"));
        }
        content.to_string()
    };
    let mut session = open_session(env, vmid).await?;
    let handle = session
        .execute(
            "guest-file-open",
            Some(json!({ "path": file, "mode": "wb" })),
        )
        .await
        .map_err(agent_error)?;
    let written = session
        .execute(
            "guest-file-write",
            Some(json!({ "handle": handle, "buf-b64": b64 })),
        )
        .await;
    let closed = session
        .execute("guest-file-close", Some(json!({ "handle": handle })))
        .await;
    written.map_err(agent_error)?;
    closed.map_err(agent_error)?;
    Ok(())
}

/// A session for multi-command operations, after the same checks as [`agent_cmd`].
async fn open_session(env: &RpcEnv, vmid: u32) -> Result<oxve_qemu::AgentSession, ApiError> {
    let vm = super::load(env, vmid).await?;
    if !vm.config.current.agent_enabled() {
        return Err(ApiError::internal("No QEMU guest agent configured"));
    }
    env.state.qemu.agent(vmid).await.map_err(agent_error)
}

fn unrestricted() -> Permission {
    Permission::Privs {
        path: "/vms/{vmid}",
        privs: &["VM.GuestAgent.Unrestricted"],
        any: false,
    }
}

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![
        ApiMethod::new(HttpMethod::Post, "/nodes/{node}/qemu/{vmid}/agent/exec", "exec")
            .description("Executes the given command in the vm via the guest-agent and returns an object with the pid.")
            .parameters(
                vm_params()
                    .required(
                        "command",
                        Schema::array(
                            "The command as a list of program + arguments.",
                            Schema::string("argument"),
                        ),
                    )
                    .optional(
                        "input-data",
                        Schema::string("Data to pass as 'input-data' to the guest. Usually used to pass data to the command via STDIN.")
                            .max_length(65536),
                    ),
            )
            .returns(Schema::object("").additional_properties(true))
            .permission(unrestricted())
            .protected()
            .handler(|env: RpcEnv, params| async move {
                let vmid = vmid_of(&env, &params)?;
                exec(&env, vmid, &params.strings("command"), params.str("input-data")).await
            }),
        ApiMethod::new(
            HttpMethod::Get,
            "/nodes/{node}/qemu/{vmid}/agent/exec-status",
            "exec-status",
        )
        .description("Gets the status of the given pid started by the guest-agent")
        .parameters(vm_params().required("pid", Schema::integer("The PID to query")))
        .returns(Schema::object("").additional_properties(true))
        .permission(unrestricted())
        .protected()
        .handler(|env: RpcEnv, params| async move {
            let vmid = vmid_of(&env, &params)?;
            exec_status(&env, vmid, params.int("pid").unwrap_or_default()).await
        }),
        ApiMethod::new(
            HttpMethod::Get,
            "/nodes/{node}/qemu/{vmid}/agent/file-read",
            "file-read",
        )
        .description("Reads the given file via guest agent. Is limited to 16777216 bytes.")
        .parameters(
            vm_params()
                .required("file", Schema::string("The path to the file"))
                .optional(
                    "count",
                    Schema::integer("Number of bytes to read.")
                        .minimum(0)
                        .maximum(MAX_READ)
                        .default(MAX_READ),
                )
                .optional(
                    "offset",
                    Schema::integer("Offset to start reading at").minimum(0).default(0),
                )
                .optional(
                    "decode",
                    Schema::boolean("Data received is decoded from base64 (default).").default(true),
                ),
        )
        .returns(Schema::object("Returns an object with a `content` property.").additional_properties(true))
        .permission(Permission::Privs {
            path: "/vms/{vmid}",
            privs: &["VM.GuestAgent.FileRead", "VM.GuestAgent.Unrestricted"],
            any: true,
        })
        .protected()
        .handler(|env: RpcEnv, params| async move {
            let vmid = vmid_of(&env, &params)?;
            file_read(
                &env,
                vmid,
                params.req_str("file"),
                params.int_or("offset", 0),
                params.int_or("count", MAX_READ),
                params.bool_or("decode", true),
            )
            .await
        }),
        ApiMethod::new(
            HttpMethod::Post,
            "/nodes/{node}/qemu/{vmid}/agent/file-write",
            "file-write",
        )
        .description("Writes the given file via guest agent.")
        .parameters(
            vm_params()
                .required("file", Schema::string("The path to the file."))
                .required(
                    "content",
                    Schema::string("The content to write into the file.").max_length(61440),
                )
                .optional(
                    "encode",
                    Schema::boolean("If set, the content will be encoded as base64 (required by QEMU). Otherwise the content needs to be encoded beforehand - defaults to true.")
                        .default(true),
                ),
        )
        .returns(Schema::Null)
        .permission(Permission::Privs {
            path: "/vms/{vmid}",
            privs: &["VM.GuestAgent.FileWrite", "VM.GuestAgent.Unrestricted"],
            any: true,
        })
        .protected()
        .handler(|env: RpcEnv, params| async move {
            let vmid = vmid_of(&env, &params)?;
            file_write(
                &env,
                vmid,
                params.req_str("file"),
                params.req_str("content"),
                params.bool_or("encode", true),
            )
            .await?;
            Ok(Value::Null)
        }),
        ApiMethod::new(
            HttpMethod::Post,
            "/nodes/{node}/qemu/{vmid}/agent/set-user-password",
            "set-user-password",
        )
        .description("Sets the password for the given user to the given password")
        .parameters(
            vm_params()
                .required("username", Schema::string("The user to set the password for."))
                .required(
                    "password",
                    Schema::string("The new password.").min_length(5).max_length(1024),
                )
                .optional(
                    "crypted",
                    Schema::boolean("set to 1 if the password has already been passed through crypt()")
                        .default(false),
                ),
        )
        .returns(Schema::object("Returns an object with a single `result` property.").additional_properties(true))
        .permission(unrestricted())
        .protected()
        .handler(|env: RpcEnv, params| async move {
            let vmid = vmid_of(&env, &params)?;
            let args = json!({
                "username": params.req_str("username"),
                "password": B64.encode(params.req_str("password")),
                "crypted": params.bool_or("crypted", false),
            });
            let result = agent_cmd(&env, vmid, "set-user-password", Some(args)).await?;
            Ok(json!({ "result": result }))
        }),
    ]
}
