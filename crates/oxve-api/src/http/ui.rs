//! The web UI: the files of `web/` embedded at compile time and served on the HTTPS port.
//!
//! `GET /` answers `web/index.html`, whose `{{ASSETS}}` placeholders become `/ui/<version>`,
//! `<version>` being a hash of every asset. The ES modules import each other by relative paths,
//! so the whole app loads under that versioned prefix and can be cached forever; a new build
//! changes the prefix. The page itself is `no-cache` (revalidated by ETag).
//!
//! Every file is listed in [`ASSETS`] with `include_bytes!`, so cargo rebuilds when one changes;
//! a unit test fails when a file under `web/src` is missing from the list.

use std::sync::OnceLock;

use axum::body::{Body, Bytes};
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use axum::routing::get;

/// One embedded file of `web/src`.
struct Asset {
    path: &'static str,
    body: &'static [u8],
}

macro_rules! assets {
    ($($path:literal),* $(,)?) => {
        &[$(Asset {
            path: $path,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/src/", $path)),
        }),*]
    };
}

/// Every file under `web/src`, served as `/ui/<version>/<path>`.
static ASSETS: &[Asset] = assets![
    "app.css",
    "main.js",
    "api.js",
    "session.js",
    "router.js",
    "resources.js",
    "dom.js",
    "format.js",
    "icons.js",
    "poll.js",
    "components/dialog.js",
    "components/form.js",
    "components/grid.js",
    "components/tree.js",
    "components/taskbar.js",
    "components/tasklog.js",
    "components/layout.js",
    "components/content.js",
    "components/widgets.js",
    "views/registry.js",
    "views/login.js",
    "views/dc-summary.js",
    "views/node-summary.js",
    "views/node-tasks.js",
    "views/resource-summary.js",
    "views/access-acl.js",
    "views/access-users.js",
    "views/access-groups.js",
    "views/access-roles.js",
    "views/access-tokens.js",
    "img/logo.svg",
];

static INDEX_HTML: &str =
    include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/index.html"));

/// Security headers of the page: no inline script, nothing loaded from elsewhere.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; \
                   form-action 'self'";

/// A file ready to send: plain and (when it pays) gzip-compressed.
struct Prepared {
    content_type: &'static str,
    plain: Bytes,
    gzip: Option<Bytes>,
    etag: HeaderValue,
}

struct Bundle {
    version: String,
    index: Prepared,
    assets: Vec<(&'static str, Prepared)>,
}

fn bundle() -> &'static Bundle {
    static BUNDLE: OnceLock<Bundle> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        for asset in ASSETS {
            hasher.update(asset.path.as_bytes());
            hasher.update([0]);
            hasher.update(asset.body);
        }
        let digest = hasher.finalize();
        let version: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
        let index = INDEX_HTML.replace("{{ASSETS}}", &format!("/ui/{version}"));
        let index = prepare("index.html", Bytes::from(index.into_bytes()));
        let assets = ASSETS
            .iter()
            .map(|a| (a.path, prepare(a.path, Bytes::from_static(a.body))))
            .collect();
        Bundle {
            version,
            index,
            assets,
        }
    })
}

fn prepare(path: &str, plain: Bytes) -> Prepared {
    use sha2::{Digest, Sha256};
    let content_type = content_type(path);
    let digest = Sha256::digest(&plain);
    let tag: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    let etag = HeaderValue::from_str(&format!("\"{tag}\"")).expect("hex is a valid header");
    let gzip = compressible(content_type)
        .then(|| gzip(&plain))
        .filter(|z| z.len() < plain.len())
        .map(Bytes::from);
    Prepared {
        content_type,
        plain,
        gzip,
        etag,
    }
}

fn gzip(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    // Writing to a Vec cannot fail.
    let _ = enc.write_all(data);
    enc.finish().unwrap_or_default()
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        Some("woff2") => "font/woff2",
        Some("ico") => "image/x-icon",
        _ => "application/octet-stream",
    }
}

fn compressible(content_type: &str) -> bool {
    content_type.starts_with("text/")
        || content_type.starts_with("image/svg")
        || content_type == "application/json"
}

/// The UI's routes, merged into the HTTPS app.
pub fn routes<S: Clone + Send + Sync + 'static>() -> axum::Router<S> {
    axum::Router::new()
        .route("/", get(index))
        .route("/ui/{version}/{*path}", get(asset))
}

async fn index(headers: HeaderMap) -> Response<Body> {
    respond(&bundle().index, &headers, Caching::Revalidate, true)
}

async fn asset(
    Path((version, path)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response<Body> {
    let bundle = bundle();
    match bundle.assets.iter().find(|(p, _)| *p == path) {
        // A page of an older build asking for its files gets today's, not cached for long.
        Some((_, file)) => {
            let caching = if version == bundle.version {
                Caching::Immutable
            } else {
                Caching::Revalidate
            };
            respond(file, &headers, caching, false)
        }
        None => {
            let mut resp = Response::new(Body::from("not found"));
            *resp.status_mut() = StatusCode::NOT_FOUND;
            resp
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Caching {
    /// Cache forever: the URL changes with the content.
    Immutable,
    /// Store, but ask again every time (answered by 304 while the ETag matches).
    Revalidate,
}

fn respond(file: &Prepared, req: &HeaderMap, caching: Caching, page: bool) -> Response<Body> {
    let not_modified = req
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| tag.trim() == "*" || tag.trim().as_bytes() == file.etag.as_bytes());
    let accepts_gzip = req
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|enc| {
            let mut parts = enc.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            name.eq_ignore_ascii_case("gzip") && !refused
        });

    let mut resp = if not_modified {
        let mut resp = Response::new(Body::empty());
        *resp.status_mut() = StatusCode::NOT_MODIFIED;
        resp
    } else {
        match (&file.gzip, accepts_gzip) {
            (Some(z), true) => {
                let mut resp = Response::new(Body::from(z.clone()));
                resp.headers_mut()
                    .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                resp
            }
            _ => Response::new(Body::from(file.plain.clone())),
        }
    };
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(file.content_type),
    );
    h.insert(header::ETAG, file.etag.clone());
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(match caching {
            Caching::Immutable => "public, max-age=31536000, immutable",
            Caching::Revalidate => "no-cache",
        }),
    );
    if file.gzip.is_some() {
        h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if page {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn web_dir() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../web")
    }

    fn files_under(dir: &std::path::Path, prefix: &str, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let entry = entry.unwrap();
            let name = entry.file_name().to_string_lossy().into_owned();
            let rel = format!("{prefix}{name}");
            if entry.file_type().unwrap().is_dir() {
                files_under(&entry.path(), &format!("{rel}/"), out);
            } else {
                out.push(rel);
            }
        }
    }

    #[test]
    fn every_web_file_is_embedded() {
        let mut found = Vec::new();
        files_under(&web_dir().join("src"), "", &mut found);
        for file in &found {
            assert!(
                ASSETS.iter().any(|a| a.path == file),
                "web/src/{file} is not listed in ASSETS (crates/oxve-api/src/http/ui.rs)"
            );
            assert_ne!(
                content_type(file),
                "application/octet-stream",
                "no content type for web/src/{file}"
            );
        }
    }

    #[test]
    fn index_points_at_versioned_assets() {
        let b = bundle();
        let page = String::from_utf8(b.index.plain.to_vec()).unwrap();
        assert!(!page.contains("{{ASSETS}}"));
        assert!(page.contains(&format!("/ui/{}/main.js", b.version)));
        assert!(page.contains(&format!("/ui/{}/app.css", b.version)));
    }

    fn header(resp: &Response<Body>, name: header::HeaderName) -> Option<&str> {
        resp.headers().get(name).and_then(|v| v.to_str().ok())
    }

    #[test]
    fn headers_gzip_and_etag() {
        let b = bundle();
        let (_, js) = b.assets.iter().find(|(p, _)| *p == "main.js").unwrap();
        let mut req = HeaderMap::new();
        req.insert(header::ACCEPT_ENCODING, "gzip, br".parse().unwrap());
        let resp = respond(js, &req, Caching::Immutable, false);
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            header(&resp, header::CONTENT_TYPE),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(header(&resp, header::CONTENT_ENCODING), Some("gzip"));
        assert!(header(&resp, header::CACHE_CONTROL)
            .unwrap()
            .contains("immutable"));

        let resp = respond(js, &HeaderMap::new(), Caching::Immutable, false);
        assert_eq!(header(&resp, header::CONTENT_ENCODING), None);

        let mut req = HeaderMap::new();
        req.insert(header::IF_NONE_MATCH, js.etag.clone());
        let resp = respond(js, &req, Caching::Revalidate, false);
        assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(header(&resp, header::CACHE_CONTROL), Some("no-cache"));

        let resp = respond(&b.index, &HeaderMap::new(), Caching::Revalidate, true);
        assert_eq!(
            header(&resp, header::CONTENT_TYPE),
            Some("text/html; charset=utf-8")
        );
        assert!(header(&resp, header::CONTENT_SECURITY_POLICY).is_some());
    }
}
