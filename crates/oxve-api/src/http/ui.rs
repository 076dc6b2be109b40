//! The web UI: the files of `web/dist` (the Vite build of `web/`, made by
//! `scripts/build-web.sh`) embedded at compile time by `build.rs` and served on the HTTPS port.
//!
//! `GET /` answers `index.html` (`no-cache`, revalidated by ETag); the hashed files under
//! `/assets/` are cached forever (a new build changes their names); other top-level files of
//! `dist` (the favicon) are revalidated. Text files are served gzip-compressed when the browser
//! accepts it. Without a build, `/` answers a page telling how to build the UI.

use std::sync::OnceLock;

use axum::body::{Body, Bytes};
use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, Response, StatusCode};
use axum::routing::get;

/// One embedded file of `web/dist`.
pub(crate) struct Asset {
    path: &'static str,
    body: &'static [u8],
}

include!(concat!(env!("OUT_DIR"), "/web_dist.rs"));

/// The page served when the UI was not built.
const NOT_BUILT: &str = "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>oxve - UI not built</title></head><body><h1>The web UI is not built</h1>\
<p>The daemon was compiled without <code>web/dist</code>. Run <code>scripts/build-web.sh</code> \
(it runs <code>npm ci &amp;&amp; npm run build</code> in <code>web/</code>), then rebuild the \
daemon (<code>cargo build -p oxve</code>). The API at <code>/api2/json</code> works without it.</p>\
</body></html>";

/// Security headers of the page: no inline script, nothing loaded from elsewhere.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
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
    index: Prepared,
    assets: Vec<(&'static str, Prepared)>,
}

fn bundle() -> &'static Bundle {
    static BUNDLE: OnceLock<Bundle> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let index = DIST
            .iter()
            .find(|a| a.path == "index.html")
            .map(|a| prepare("index.html", Bytes::from_static(a.body)))
            .unwrap_or_else(|| prepare("index.html", Bytes::from_static(NOT_BUILT.as_bytes())));
        let assets = DIST
            .iter()
            .filter(|a| a.path != "index.html")
            .map(|a| (a.path, prepare(a.path, Bytes::from_static(a.body))))
            .collect();
        Bundle { index, assets }
    })
}

/// Whether the daemon was built with the UI.
pub fn built() -> bool {
    DIST.iter().any(|a| a.path == "index.html")
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
        Some("json" | "map") => "application/json",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("ttf") => "font/ttf",
        Some("ico") => "image/x-icon",
        Some("wasm") => "application/wasm",
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
    let mut router = axum::Router::new()
        .route("/", get(index))
        .route("/assets/{*path}", get(hashed_asset));
    // Top-level files of dist (the favicon): one route each, so nothing else is shadowed.
    for asset in DIST {
        if asset.path != "index.html" && !asset.path.contains('/') {
            let path = asset.path;
            router =
                router.route(
                    &format!("/{path}"),
                    get(move |headers: HeaderMap| async move {
                        serve(path, &headers, Caching::Revalidate)
                    }),
                );
        }
    }
    router
}

async fn index(headers: HeaderMap) -> Response<Body> {
    let mut resp = respond(&bundle().index, &headers, Caching::Revalidate, true);
    if !built() {
        *resp.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    }
    resp
}

async fn hashed_asset(Path(path): Path<String>, headers: HeaderMap) -> Response<Body> {
    serve(&format!("assets/{path}"), &headers, Caching::Immutable)
}

fn serve(path: &str, headers: &HeaderMap, caching: Caching) -> Response<Body> {
    match bundle().assets.iter().find(|(p, _)| *p == path) {
        Some((_, file)) => respond(file, headers, caching, false),
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

    fn header(resp: &Response<Body>, name: header::HeaderName) -> Option<&str> {
        resp.headers().get(name).and_then(|v| v.to_str().ok())
    }

    #[test]
    fn index_is_the_build_or_the_not_built_page() {
        let page = String::from_utf8(bundle().index.plain.to_vec()).unwrap();
        if built() {
            assert!(page.contains("/assets/"), "index.html loads hashed assets");
            for (path, _) in &bundle().assets {
                assert_ne!(
                    content_type(path),
                    "application/octet-stream",
                    "no content type for {path}"
                );
            }
        } else {
            assert!(page.contains("scripts/build-web.sh"));
        }
    }

    #[test]
    fn headers_gzip_and_etag() {
        let js = prepare("assets/x.js", Bytes::from("let a = 1;\n".repeat(100)));
        let mut req = HeaderMap::new();
        req.insert(header::ACCEPT_ENCODING, "gzip, br".parse().unwrap());
        let resp = respond(&js, &req, Caching::Immutable, false);
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(
            header(&resp, header::CONTENT_TYPE),
            Some("text/javascript; charset=utf-8")
        );
        assert_eq!(header(&resp, header::CONTENT_ENCODING), Some("gzip"));
        assert!(header(&resp, header::CACHE_CONTROL)
            .unwrap()
            .contains("immutable"));

        let resp = respond(&js, &HeaderMap::new(), Caching::Immutable, false);
        assert_eq!(header(&resp, header::CONTENT_ENCODING), None);

        let mut req = HeaderMap::new();
        req.insert(header::IF_NONE_MATCH, js.etag.clone());
        let resp = respond(&js, &req, Caching::Revalidate, false);
        assert_eq!(resp.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(header(&resp, header::CACHE_CONTROL), Some("no-cache"));

        let resp = respond(
            &bundle().index,
            &HeaderMap::new(),
            Caching::Revalidate,
            true,
        );
        assert_eq!(
            header(&resp, header::CONTENT_TYPE),
            Some("text/html; charset=utf-8")
        );
        assert!(header(&resp, header::CONTENT_SECURITY_POLICY).is_some());
    }
}
