//! `oxve serve`: open the store, bootstrap the admin, and serve the API.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use oxve_api::{ApiServer, AppState, HostInfo, Listeners};
use oxve_auth::{AccessControl, AuthOptions};
use oxve_store::SqliteStore;
use oxve_tasks::TaskManager;

pub const DEFAULT_DATA_DIR: &str = "/var/lib/oxve";
pub const DEFAULT_RUN_DIR: &str = "/run/oxve";
const INITIAL_PASSWORD_FILE: &str = "initial-admin-password";

#[derive(clap::Args)]
pub struct ServeArgs {
    /// Where the node keeps its state (store, certificates, task logs, local storage).
    #[arg(long, default_value = DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// HTTPS address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "0.0.0.0:8006")]
    listen: SocketAddr,
    /// This node's name (default: the host name).
    #[arg(long)]
    node: Option<String>,
    /// Runtime files: the CLI socket, guest sockets and pidfiles (default /run/oxve for the
    /// default data dir, DATA/run otherwise, so test daemons never share one).
    #[arg(long)]
    run_dir: Option<PathBuf>,
    /// Acceleration for VMs: auto (KVM when the probe succeeds), kvm, or tcg.
    #[arg(long, default_value = "auto", value_parser = ["auto", "kvm", "tcg"])]
    accel: String,
    /// Container template index (`aplinfo.dat` layout) for `oxve template update`;
    /// `file://` works offline.
    #[arg(long, env = "OXVE_APPLIANCE_INDEX")]
    appliance_index: Option<String>,
    /// Add test-only API methods (a sleeping worker task); for the integration tests.
    #[arg(long, hide = true)]
    test_hooks: bool,
}

fn host_name() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .map(|h| h.split('.').next().unwrap_or_default().to_string())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn create_private_dir(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::create_dir_all(path).with_context(|| format!("creating {}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("securing {}", path.display()))
}

/// Write the generated admin password where only root can read it.
fn save_initial_password(data_dir: &Path, password: &str) -> anyhow::Result<PathBuf> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let path = data_dir.join(INITIAL_PASSWORD_FILE);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .with_context(|| format!("writing {}", path.display()))?;
    writeln!(f, "{password}")?;
    f.sync_all()?;
    Ok(path)
}

/// Keep the daemon's memory small: a login hashes with argon2 (19 MiB per hash), and glibc's
/// adaptive mmap threshold would otherwise keep such blocks in per-thread arenas for good.
/// A fixed threshold makes large blocks plain mmaps, returned to the kernel on free.
pub fn tune_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes allocator parameters; main calls this before it starts
    // any other thread.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 256 * 1024);
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

pub async fn run(args: ServeArgs) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("OXVE_LOG")
                .unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .init();

    let node = args.node.unwrap_or_else(host_name);
    oxve_types::format::check_node(&node).map_err(|e| anyhow::anyhow!("--node: {e}"))?;
    let data_dir = args.data_dir;
    let run_dir = args.run_dir.unwrap_or_else(|| {
        if data_dir == Path::new(DEFAULT_DATA_DIR) {
            PathBuf::from(DEFAULT_RUN_DIR)
        } else {
            data_dir.join("run")
        }
    });
    create_private_dir(&data_dir)?;
    create_private_dir(&run_dir)?;

    let store = Arc::new(
        SqliteStore::open(&data_dir.join("config.db")).context("opening the config store")?,
    );
    let access = Arc::new(AccessControl::new(store.clone(), AuthOptions::default()));
    let env_password = std::env::var("OXVE_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    let generated = access
        .bootstrap_admin(env_password)
        .await
        .context("creating the initial admin user")?;
    if let Some(password) = &generated {
        let path = save_initial_password(&data_dir, password)?;
        println!("created user admin@pve with password: {password}");
        println!(
            "(saved in {}; change it after the first login)",
            path.display()
        );
    }

    let tasks = TaskManager::new(&node, data_dir.join("tasks")).context("opening task logs")?;
    let tls = oxve_api::http::tls::ensure_node_certificate(&data_dir.join("pki"), &node)
        .context("preparing the TLS certificate")?;
    let ssl_fingerprint = oxve_api::http::tls::fingerprint(&tls.cert)?;

    let host = HostInfo {
        cpuinfo: oxve_host::cpu_info(),
        cpu: oxve_host::CpuSampler::new(),
        kvm: tokio::task::spawn_blocking(|| oxve_host::kvm_usable(Duration::from_secs(3))).await?,
        ssl_fingerprint,
    };
    if let (Some(reason), "auto") = (&host.kvm.reason, args.accel.as_str()) {
        tracing::warn!("KVM not usable, VMs will run under TCG: {reason}");
    }

    let kvm = match args.accel.as_str() {
        "kvm" => true,
        "tcg" => false,
        _ => host.kvm.usable,
    };
    let network = Arc::new(oxve_net::service::NetworkService::new(&data_dir, &run_dir));
    let mut engine_opts = oxve_qemu::EngineOptions::new(run_dir.clone(), kvm);
    let wiring_state = Arc::new(std::sync::OnceLock::new());
    engine_opts.tap_wiring = Some(Arc::new(crate::net_wiring::BridgeWiring {
        state: wiring_state.clone(),
    }));
    let qemu = oxve_qemu::QemuEngine::new(engine_opts);
    let state = Arc::new(AppState {
        node: node.clone(),
        data_dir: data_dir.clone(),
        store,
        access,
        tasks,
        host,
        storage: oxve_api::storage_service::StorageService::new(data_dir.clone()),
        qemu,
        lxc: match args.appliance_index {
            Some(url) => oxve_lxc::LxcEngine::new(&run_dir)
                .with_appliance_index(url, data_dir.join("aplinfo/aplinfo.dat")),
            None => oxve_lxc::LxcEngine::new(&run_dir),
        },
        network,
        started: Instant::now(),
        caches: Default::default(),
        consoles: Default::default(),
        rrd: Arc::new(oxve_rrd::RrdStore::new(data_dir.join("rrd"))),
    });
    let _ = wiring_state.set(Arc::downgrade(&state));
    spawn_cpu_sampler(state.clone());
    oxve_api::rrd_sampler::spawn(state.clone());
    // The local storage's directories exist from the first start.
    if let Err(err) = state
        .storage
        .run(state.store.as_ref(), |m| m.activate("local"))
        .await
    {
        tracing::warn!("cannot activate the local storage: {err}");
    }
    // Backup jobs run on schedule (and a missed one at start, with repeat-missed).
    oxve_api::scheduler::spawn(state.clone());
    // The node's network as configured (bridges, NAT, forwards), as a boot would bring it up.
    oxve_api::api::network::start(&state).await;
    let router = if args.test_hooks {
        oxve_api::api::router_with_test_hooks()
    } else {
        oxve_api::api::router()
    };
    let autostart_state = state.clone();
    let fw_state = state.clone();
    let server = ApiServer::new(state, router);
    let listeners = Listeners {
        https: args.listen,
        tls,
        local_socket: Some(run_dir.join("oxve.sock")),
    };
    let on_listening = move |addr: SocketAddr| {
        // once the run dir is final (binding the CLI socket resets its mode)
        start_onboot_guests_after_host_boot(autostart_state);
        // the host firewall keeps the API's real port open
        fw_state.network.set_api_port(addr.port());
        let fw_state = fw_state.clone();
        tokio::spawn(async move {
            let _guard = fw_state.network.firewall_lock().await;
            if let Err(e) = oxve_api::api::firewall::sync_firewall(&fw_state).await {
                tracing::warn!("cannot apply the firewall: {e}");
            }
        });
        let host = if addr.ip().is_unspecified() {
            node.clone()
        } else {
            addr.ip().to_string()
        };
        println!(
            "oxve listening on https://{host}:{}/ (node {node})",
            addr.port()
        );
        println!("log in as admin@pve (realm pve) or root@pam");
    };
    oxve_api::serve(server, listeners, on_listening, shutdown_signal()).await?;
    Ok(())
}

/// On the first daemon start after the host booted (its boot id differs from the one recorded
/// in the data dir), start the `onboot` guests in startup order, as Proxmox's pve-guests
/// service does; a daemon restart leaves the running guests alone.
fn start_onboot_guests_after_host_boot(state: Arc<AppState>) {
    let marker = state.data_dir.join("last-boot-id");
    let boot_id = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let recorded = std::fs::read_to_string(&marker).unwrap_or_default();
    if boot_id.trim().is_empty() || boot_id.trim() == recorded.trim() {
        return;
    }
    if let Err(err) = std::fs::write(&marker, boot_id.trim()) {
        tracing::warn!("cannot record the boot id in {}: {err}", marker.display());
        return;
    }
    let env = oxve_api::RpcEnv {
        state: state.clone(),
        auth_id: Some(oxve_auth::Authid::root()),
        client: None,
        upload: None,
    };
    tokio::spawn(async move {
        // No task at all when no guest is to start.
        if !oxve_api::api::qemu::bulk::has_onboot_guests(&env).await {
            return;
        }
        let task_env = env.clone();
        let spawned = env
            .state
            .tasks
            .spawn("startall", None, "root@pam", move |ctx| async move {
                oxve_api::api::qemu::bulk::start_all(&task_env, false, None, &ctx).await
            });
        if let Err(err) = spawned {
            tracing::warn!("cannot start the onboot guests: {err}");
        }
    });
}

/// Keep the node CPU figure current for /nodes and /cluster/resources.
fn spawn_cpu_sampler(state: Arc<AppState>) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(2));
        loop {
            tick.tick().await;
            state.host.cpu.sample();
        }
    });
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
    tokio::select! {
        _ = term.recv() => {},
        _ = int.recv() => {},
    }
    tracing::info!("shutting down");
}
