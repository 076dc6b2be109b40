//! `POST /api2/json/nodes/{node}/storage/{storage}/upload`: a multipart upload streamed to a
//! private temp file (never held in memory), then handed to the declared API method as an
//! [`UploadedFile`], as Proxmox's server streams to `/var/tmp/pveupload-*` first.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequest, Multipart, Request, State};
use axum::http::Response;
use oxve_router::ApiError;

use super::dispatch::{self, ApiRequest, Transport};
use super::{response, ApiServer};

/// A file received by an upload, deleted when dropped unless it was moved away first.
#[derive(Debug)]
pub struct UploadedFile {
    /// The temp file holding the upload.
    pub path: PathBuf,
    /// The file name the client gave.
    pub filename: String,
    pub size: u64,
}

impl Drop for UploadedFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn temp_path(dir: &Path) -> PathBuf {
    let mut name = String::from("upload-");
    for b in rand_bytes() {
        name.push_str(&format!("{b:02x}"));
    }
    dir.join(name)
}

fn rand_bytes() -> [u8; 12] {
    let mut buf = [0u8; 12];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        let _ = std::io::Read::read_exact(&mut f, &mut buf);
    }
    buf
}

fn io_error(err: std::io::Error) -> ApiError {
    ApiError::internal(format!("unable to store upload - {err}"))
}

/// Read the multipart body: plain fields become parameters, the `filename` part is streamed
/// to a temp file. Proxmox requires the file part to come last.
async fn receive(
    server: &ApiServer,
    multipart: &mut Multipart,
) -> Result<(Vec<(String, String)>, UploadedFile), ApiError> {
    let tmp_dir = server.state.data_dir.join("tmp");
    std::fs::create_dir_all(&tmp_dir).map_err(io_error)?;
    let mut fields = Vec::new();
    while let Some(mut field) = multipart
        .next_field()
        .await
        .map_err(|e| ApiError::bad_request(format!("malformed upload - {e}")))?
    {
        let name = field.name().unwrap_or_default().to_string();
        if name != "filename" {
            let value = field
                .text()
                .await
                .map_err(|e| ApiError::bad_request(format!("malformed upload - {e}")))?;
            fields.push((name, value));
            continue;
        }
        let filename = field.file_name().unwrap_or_default().to_string();
        let path = temp_path(&tmp_dir);
        let mut upload = UploadedFile {
            path,
            filename,
            size: 0,
        };
        let mut file = {
            use std::os::unix::fs::OpenOptionsExt;
            std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&upload.path)
                .map_err(io_error)?
        };
        while let Some(chunk) = field
            .chunk()
            .await
            .map_err(|e| ApiError::bad_request(format!("upload interrupted - {e}")))?
        {
            file.write_all(&chunk).map_err(io_error)?;
            upload.size += chunk.len() as u64;
        }
        file.sync_all().map_err(io_error)?;
        return Ok((fields, upload));
    }
    Err(ApiError::param(
        "filename",
        "no file part named 'filename' in the upload",
    ))
}

pub async fn upload(
    State(server): State<Arc<ApiServer>>,
    ConnectInfo(peer): ConnectInfo<std::net::SocketAddr>,
    req: Request,
) -> Response<Body> {
    let (parts, body) = req.into_parts();
    let path = parts
        .uri
        .path()
        .strip_prefix("/api2/json")
        .unwrap_or_default()
        .to_string();
    let transport = Transport::Tls { client: peer.ip() };
    // Authenticate before reading a possibly huge body.
    if let Err(err) = dispatch::authenticate_upload(&server, transport, &parts.headers).await {
        return response::error(&err);
    }
    let request = Request::from_parts(parts.clone(), body);
    let mut multipart = match Multipart::from_request(request, &()).await {
        Ok(m) => m,
        Err(e) => return response::error(&ApiError::bad_request(e.to_string())),
    };
    let (fields, file) = match receive(&server, &mut multipart).await {
        Ok(received) => received,
        Err(err) => return response::error(&err),
    };
    let form: String = fields
        .iter()
        .map(|(k, v)| {
            format!(
                "{}={}",
                percent_encoding::utf8_percent_encode(k, percent_encoding::NON_ALPHANUMERIC),
                percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC)
            )
        })
        .collect::<Vec<_>>()
        .join("&");
    let mut headers = parts.headers.clone();
    headers.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    dispatch::dispatch_with_upload(
        &server,
        transport,
        ApiRequest {
            method: &parts.method,
            path: &path,
            query: parts.uri.query(),
            headers: &headers,
            body: form.into(),
        },
        Some(Arc::new(file)),
    )
    .await
}
