//! POST /nodes/{node}/storage/{storage}/upload: ISO images, container templates and import
//! files. The HTTP layer streams the file to a temp file first; a worker task copies it into
//! the storage, checking the checksum, and removes it again when the checksum does not match.

use std::io::{Read, Write};

use oxve_router::{ApiError, ApiMethod, HttpMethod, Permission};
use oxve_storage::checksum::ChecksumAlgorithm;
use oxve_storage::ContentType;
use oxve_types::schema::Schema;
use serde_json::json;

use super::storage_param;
use crate::api::common::{local_node, node_param};
use crate::env::RpcEnv;

pub fn methods() -> Vec<ApiMethod<RpcEnv>> {
    vec![ApiMethod::new(HttpMethod::Post, "/nodes/{node}/storage/{storage}/upload", "upload")
        .description("Upload templates, ISO images and import files (multipart/form-data; the file part, named 'filename', comes last).")
        .parameters(
            Schema::object("")
                .required("node", node_param())
                .required("storage", storage_param())
                .required("content", Schema::string("Content type.").enum_values(&["iso", "vztmpl", "import"]))
                .optional("filename", Schema::string("The name of the file to create (defaults to the uploaded file's name).").max_length(255))
                .optional("checksum", Schema::string("The expected checksum of the file.").max_length(256))
                .optional("checksum-algorithm", Schema::string("The algorithm to calculate the checksum of the file.").enum_values(&["md5", "sha1", "sha224", "sha256", "sha384", "sha512"])),
        )
        .returns(Schema::string("The task's UPID."))
        .permission(Permission::Privs {
            path: "/storage/{storage}",
            privs: &["Datastore.AllocateTemplate"],
            any: false,
        })
        .protected()
        .handler(|env: RpcEnv, params| async move {
            local_node(&env, params.req_str("node"))?;
            let upload = env
                .upload
                .clone()
                .ok_or_else(|| ApiError::param("filename", "no file uploaded (use multipart/form-data)"))?;
            let storage = params.req_str("storage").to_string();
            let content: ContentType = params
                .req_str("content")
                .parse()
                .map_err(|e: String| ApiError::param("content", e))?;
            let filename = params.str("filename").unwrap_or(&upload.filename).to_string();
            oxve_storage::volid::check_file_name(&filename)
                .map_err(|e| ApiError::param("filename", e))?;
            let checksum = match (params.str("checksum"), params.str("checksum-algorithm")) {
                (Some(sum), Some(algo)) => {
                    let algo: ChecksumAlgorithm = algo
                        .parse()
                        .map_err(|e: oxve_storage::StorageError| ApiError::param("checksum-algorithm", e.to_string()))?;
                    Some((algo, sum.to_string()))
                }
                (None, None) => None,
                (Some(_), None) => return Err(ApiError::param("checksum-algorithm", "'checksum-algorithm' is required with 'checksum'")),
                (None, Some(_)) => return Err(ApiError::param("checksum", "'checksum' is required with 'checksum-algorithm'")),
            };
            // Resolve the target now so a bad storage, content type or existing file is a
            // plain error, not a failed task.
            let sid = storage.clone();
            let name = filename.clone();
            let target = env
                .state
                .storage
                .run(env.state.store.as_ref(), move |m| m.begin_upload(&sid, content, &name, checksum))
                .await?;
            let upid = env
                .state
                .tasks
                .spawn("imgcopy", None, &env.caller_string(), move |ctx| async move {
                    ctx.log(format!("target file: {}", target.final_path().display()));
                    ctx.log(format!("file size is: {}", upload.size));
                    let result = tokio::task::spawn_blocking(move || -> Result<String, String> {
                        let mut target = target;
                        let mut src = std::fs::File::open(&upload.path).map_err(|e| e.to_string())?;
                        let mut buf = vec![0u8; 1 << 20];
                        loop {
                            let n = src.read(&mut buf).map_err(|e| e.to_string())?;
                            if n == 0 {
                                break;
                            }
                            target.write_all(&buf[..n]).map_err(|e| e.to_string())?;
                        }
                        // commit verifies the checksum; on mismatch the file is removed.
                        let volid = target.commit().map_err(|e| e.to_string())?;
                        drop(upload); // removes the temp file
                        Ok(volid.to_string())
                    })
                    .await
                    .map_err(|e| e.to_string())?;
                    let volid = result?;
                    ctx.log(format!("TASK: uploaded {volid}"));
                    Ok::<(), String>(())
                })
                .map_err(|e| ApiError::internal(e.to_string()))?;
            Ok(json!(upid.to_string()))
        })]
}
