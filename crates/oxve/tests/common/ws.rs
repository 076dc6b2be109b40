//! A websocket client for the console endpoints, over HTTPS to the test daemon (its
//! certificate is self-signed, so this client accepts any).

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::WebSocketStream;

use super::Session;

pub type Ws = WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

#[derive(Debug)]
struct AcceptAny;

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _: &CertificateDer<'_>,
        _: &[CertificateDer<'_>],
        _: &ServerName<'_>,
        _: &[u8],
        _: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }
    fn verify_tls12_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn verify_tls13_signature(
        &self,
        _: &[u8],
        _: &CertificateDer<'_>,
        _: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        Ok(HandshakeSignatureValid::assertion())
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Opens `path?query` (below /api2/json) as a websocket with the session's cookie; the HTTP
/// status of a refused upgrade comes back as the error.
pub async fn connect(s: &Session, path_and_query: &str) -> Result<Ws, u16> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let base = s.base.trim_start_matches("https://");
    let tcp = tokio::net::TcpStream::connect(base)
        .await
        .expect("tcp connect");
    let config = rustls::ClientConfig::builder()
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAny))
        .with_no_client_auth();
    let tls = tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(ServerName::try_from("localhost").unwrap(), tcp)
        .await
        .expect("tls connect");
    let mut request = format!("wss://{base}/api2/json{path_and_query}")
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "Cookie",
        format!("PVEAuthCookie={}", s.ticket).parse().unwrap(),
    );
    request
        .headers_mut()
        .insert("Sec-WebSocket-Protocol", "binary".parse().unwrap());
    match tokio_tungstenite::client_async(request, tls).await {
        Ok((ws, _)) => Ok(ws),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => Err(resp.status().as_u16()),
        Err(e) => panic!("websocket: {e}"),
    }
}

/// Opens the serial console of running VM `vmid` (termproxy + vncwebsocket + login).
pub async fn open_serial(s: &Session, vmid: u32) -> Ws {
    open_termproxy(
        s,
        &format!("/nodes/testnode/qemu/{vmid}"),
        &[("serial", "serial0")],
    )
    .await
}

/// `termproxy` of guest `guest` (`/nodes/testnode/lxc/100`) with `params`, its websocket
/// connected and logged in.
pub async fn open_termproxy(s: &Session, guest: &str, params: &[(&str, &str)]) -> Ws {
    use futures::{SinkExt, StreamExt};
    use tokio_tungstenite::tungstenite::Message;
    let r = s.post(&format!("{guest}/termproxy"), params).await;
    assert_eq!(r.status, 200, "{:?}", r.body);
    let ticket = r.data()["ticket"].as_str().unwrap().to_string();
    let path = format!(
        "{guest}/vncwebsocket?port={}&vncticket={}",
        r.data()["port"],
        percent_encoding::utf8_percent_encode(&ticket, percent_encoding::NON_ALPHANUMERIC)
    );
    let mut ws = connect(s, &path).await.expect("websocket upgrade");
    ws.send(Message::text(format!("{}:{ticket}\n", s.username)))
        .await
        .unwrap();
    let ok = ws.next().await.unwrap().unwrap();
    assert_eq!(ok.into_text().unwrap().as_str(), "OK");
    ws
}

/// Runs `command` in the guest's root shell and returns what it printed. The command is
/// framed by markers the shell computes (`$((n+0))`), so its echoed input never matches.
pub async fn guest_exec(ws: &mut Ws, command: &str) -> String {
    use futures::{SinkExt, StreamExt};
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::time::{Duration, Instant};
    use tokio_tungstenite::tungstenite::Message;
    static NEXT: AtomicU32 = AtomicU32::new(1000);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    // Line ends vary (a container console's nested terminals send CR CR LF): compare
    // without CRs.
    let (start, end) = (format!("S-{n}\n"), format!("E-{n}"));
    let line = format!("echo S-$(({n}+0)); {command}; echo E-$(({n}+0))\r");
    let typed = format!("echo S-$(({n}+0));");
    let mut output = String::new();
    let deadline = Instant::now() + Duration::from_secs(150);
    let mut next_send = Instant::now();
    loop {
        let clean = output.replace('\r', "");
        if let (Some(a), Some(b)) = (clean.find(&start), clean.rfind(&end)) {
            if b > a {
                return clean[a + start.len()..b].to_string();
            }
        }
        assert!(
            Instant::now() < deadline,
            "no answer to '{command}' in: {output}"
        );
        // Resend only while nothing took the line: once the terminal echoed it, the shell has
        // it queued and a second copy would run the command twice, unless a prompt came after
        // the echo (a shell that started later and dropped what was typed before).
        let queued = clean
            .rfind(&typed)
            .is_some_and(|at| !clean[at..].contains("# "));
        if Instant::now() >= next_send && !clean.contains(&start) && !queued {
            let msg = format!("0:{}:{line}", line.len());
            ws.send(Message::text(msg)).await.unwrap();
            next_send = Instant::now() + Duration::from_secs(5);
        }
        if let Ok(Some(Ok(msg))) = tokio::time::timeout(Duration::from_millis(300), ws.next()).await
        {
            output.push_str(&String::from_utf8_lossy(&msg.into_data()));
        }
    }
}

/// The guest's name (`sdb`, ...) of its only disk of `bytes` bytes, once the kernel found it
/// (within a minute). The kernel probes SCSI disks asynchronously and names them in the order
/// the probes run, so on a loaded host the second disk of the config is not always `/dev/sdb`,
/// and the shell can come up before the last disk is there.
pub async fn guest_disk_of_size(ws: &mut Ws, bytes: u64) -> String {
    let sectors = bytes / 512;
    let script = format!(
        "n=0; while [ $n -lt 60 ]; do f=$(for d in /sys/block/*; do [ \"$(cat $d/size)\" = {sectors} ] && echo ${{d##*/}}; done); [ -n \"$f\" ] && break; n=$((n+1)); sleep 1; done; echo $f"
    );
    let names = guest_exec(ws, &script).await;
    let names: Vec<&str> = names.split_whitespace().collect();
    assert_eq!(
        names.len(),
        1,
        "disks of {bytes} bytes in the guest: {names:?}"
    );
    names[0].to_string()
}
