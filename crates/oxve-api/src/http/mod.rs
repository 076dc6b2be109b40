//! The HTTP front end: HTTPS for clients, a root-only unix socket for the local CLI.

mod credentials;
mod dispatch;
mod params;
pub mod permissions;
mod response;
pub mod tls;
mod ui;
pub mod upload;
mod websocket;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, Response, StatusCode};
use axum::routing::{any, get};
use oxve_router::Router;

pub use dispatch::Transport;

use crate::env::RpcEnv;
use crate::state::AppState;

/// Largest accepted request body for ordinary API calls (uploads get their own path).
const MAX_BODY: usize = 4 * 1024 * 1024;

/// The API tree and the state its handlers share.
pub struct ApiServer {
    pub state: Arc<AppState>,
    pub router: Router<RpcEnv>,
    /// The OpenAPI document, rendered once.
    openapi: Bytes,
}

impl ApiServer {
    pub fn new(state: Arc<AppState>, router: Router<RpcEnv>) -> Arc<Self> {
        let doc = oxve_router::openapi_document(&router, env!("CARGO_PKG_VERSION"));
        Arc::new(ApiServer {
            state,
            router,
            openapi: Bytes::from(serde_json::to_vec(&doc).unwrap_or_default()),
        })
    }

    /// The axum app for one transport.
    pub fn app(self: &Arc<Self>, local_socket: bool) -> axum::Router {
        let api = if local_socket {
            any(api_local)
        } else {
            any(api_tls)
        };
        let mut app = axum::Router::new()
            .route("/api2/json", api.clone())
            .route("/api2/json/{*path}", api)
            .route("/api2/openapi.json", get(openapi));
        if !local_socket {
            app = app.route(
                "/api2/json/nodes/{node}/storage/{storage}/upload",
                // Uploads are streamed to disk, so no body size limit applies.
                axum::routing::post(upload::upload)
                    .layer(axum::extract::DefaultBodyLimit::disable()),
            );
        }
        // The web UI only on the HTTPS port: the local socket serves the CLI.
        let app = if local_socket {
            app
        } else {
            app.merge(ui::routes())
        };
        app.fallback(not_found).with_state(Arc::clone(self))
    }
}

async fn api_tls(
    State(server): State<Arc<ApiServer>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    req: Request,
) -> Response<Body> {
    handle(&server, Transport::Tls { client: peer.ip() }, req).await
}

async fn api_local(State(server): State<Arc<ApiServer>>, req: Request) -> Response<Body> {
    handle(&server, Transport::LocalSocket, req).await
}

async fn handle(server: &ApiServer, transport: Transport, req: Request) -> Response<Body> {
    let (mut parts, body) = req.into_parts();
    if websocket::is_console_upgrade(&parts) {
        use axum::extract::FromRequestParts;
        use axum::response::IntoResponse;
        return match axum::extract::ws::WebSocketUpgrade::from_request_parts(&mut parts, &()).await
        {
            Ok(ws) => websocket::upgrade(server, transport, parts, ws).await,
            Err(rejection) => rejection.into_response(),
        };
    }
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => body,
        Err(_) => {
            return response::error(&oxve_router::ApiError::new(413, "request entity too large"))
        }
    };
    let full_path = parts.uri.path();
    let path = full_path.strip_prefix("/api2/json").unwrap_or(full_path);
    dispatch::dispatch(
        server,
        transport,
        dispatch::ApiRequest {
            method: &parts.method,
            path,
            query: parts.uri.query(),
            headers: &parts.headers,
            body,
        },
    )
    .await
}

async fn openapi(State(server): State<Arc<ApiServer>>) -> Response<Body> {
    let mut resp = Response::new(Body::from(server.openapi.clone()));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    resp
}

async fn not_found() -> Response<Body> {
    let mut resp = Response::new(Body::from("not found"));
    *resp.status_mut() = StatusCode::NOT_FOUND;
    resp
}

/// Where the daemon listens.
pub struct Listeners {
    pub https: SocketAddr,
    pub tls: tls::TlsFiles,
    /// The root-only unix socket for the local CLI.
    pub local_socket: Option<PathBuf>,
}

/// Serve until `shutdown` resolves. `on_listening` gets the bound HTTPS address (the port may
/// have been 0).
pub async fn serve(
    server: Arc<ApiServer>,
    listeners: Listeners,
    on_listening: impl FnOnce(SocketAddr) + Send + 'static,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = axum_server::tls_rustls::RustlsConfig::from_pem_file(
        &listeners.tls.cert,
        &listeners.tls.key,
    )
    .await?;
    let handle = axum_server::Handle::new();

    let local = match &listeners.local_socket {
        Some(path) => Some(bind_local_socket(path)?),
        None => None,
    };
    if let Some(listener) = local {
        let app = server.app(true);
        tokio::spawn(async move {
            if let Err(err) = axum::serve(listener, app.into_make_service()).await {
                tracing::error!("local socket server failed: {err}");
            }
        });
    }

    // TCP_NODELAY: large responses otherwise stall on Nagle + delayed ACK (~40 ms).
    let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(config)
        .acceptor(axum_server::accept::NoDelayAcceptor::new());
    let https = axum_server::bind(listeners.https)
        .acceptor(acceptor)
        .handle(handle.clone())
        .serve(
            server
                .app(false)
                .into_make_service_with_connect_info::<SocketAddr>(),
        );
    let waiter = handle.clone();
    tokio::spawn(async move {
        if let Some(addr) = waiter.listening().await {
            on_listening(addr);
        }
    });
    let stopper = handle.clone();
    tokio::spawn(async move {
        shutdown.await;
        stopper.graceful_shutdown(Some(std::time::Duration::from_secs(5)));
    });
    https.await
}

/// Bind the CLI socket, readable and writable by root only.
fn bind_local_socket(path: &std::path::Path) -> std::io::Result<tokio::net::UnixListener> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
        // The directory too, so nobody can connect in the moment before the chmod below.
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))?;
    }
    let _ = std::fs::remove_file(path);
    let listener = tokio::net::UnixListener::bind(path)?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}
