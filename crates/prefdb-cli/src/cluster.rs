//! `prefdb cluster scheduler` and `prefdb cluster executor`: the processes of a Ballista
//! cluster with every prefdb function, and `--cluster` sessions for sql, shell and serve.

use clap::{Args, Subcommand};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;

#[derive(Subcommand)]
pub enum ClusterCommand {
    /// Run the cluster's scheduler: clients send it queries, it plans them with prefdb's
    /// functions and hands their stages to executors.
    Scheduler {
        /// Address to listen on (gRPC, and /readyz over HTTP) [default: 127.0.0.1:50050].
        /// Port 0 picks a free port; the address is printed. Ballista has no
        /// authentication: a non-loopback address serves anyone who can reach it.
        #[arg(long, value_name = "HOST:PORT")]
        bind: Option<String>,
        #[command(flatten)]
        settings: Settings,
    },
    /// Run an executor: it registers with the scheduler, runs the tasks it is given and
    /// serves their output (Arrow Flight) to other executors and to clients.
    Executor {
        /// The scheduler, HOST:PORT.
        #[arg(long, value_name = "HOST:PORT")]
        scheduler: String,
        /// Address for Arrow Flight, where other executors and clients fetch results
        /// [default: 127.0.0.1:50051]. Port 0 picks free ports; they are printed.
        #[arg(long, value_name = "HOST:PORT")]
        bind: Option<String>,
        /// Port on the same host where the scheduler launches tasks [default: the Flight
        /// port + 1, or a free port when that is 0].
        #[arg(long, value_name = "PORT")]
        grpc_port: Option<u16>,
        /// Tasks run at once [default: one per core].
        #[arg(long, value_name = "N", value_parser = crate::connections)]
        concurrency: Option<usize>,
        /// Directory for shuffle files [default: a new directory under the system's
        /// temporary directory].
        #[arg(long, value_name = "DIR")]
        work_dir: Option<PathBuf>,
        /// Memory for this executor's tasks together, as in 4GiB, or 'none'
        /// [default: half of the machine's memory].
        #[arg(long, value_name = "SIZE")]
        memory_limit: Option<String>,
        #[command(flatten)]
        settings: Settings,
    },
}

#[derive(Args)]
pub struct Settings {
    /// A prefdb.toml whose [stores] say how to reach object stores (s3://, az://, gs://);
    /// credentials also come from this process's environment (AWS_*, AZURE_*).
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
}

impl Settings {
    fn stores(&self) -> Result<prefdb::stores::StoreSettings, String> {
        let config =
            prefdb::session::load_config(self.config.as_deref()).map_err(crate::message)?;
        Ok(prefdb::stores::settings_from_config(&config.stores))
    }
}

/// `host:port`, with a port.
fn address(flag: &str, text: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    let mut found = text
        .to_socket_addrs()
        .map_err(|e| format!("{flag} {text}: expected HOST:PORT ({e})"))?;
    found
        .next()
        .ok_or_else(|| format!("{flag} {text}: no address found for this host"))
}

fn warn_if_exposed(what: &str, addr: &SocketAddr) {
    if !addr.ip().is_loopback() {
        eprintln!(
            "warning: the {what} listens on {addr}, beyond this machine; Ballista has no authentication, so anyone who can reach it can run queries and read what the cluster can read"
        );
    }
}

/// A port no one listens on now. (Another process could take it before the executor
/// binds it; on the loopback of one machine that is rare, and the executor then fails to
/// start with a message naming the port.)
fn free_port(host: std::net::IpAddr) -> Result<u16, String> {
    TcpListener::bind((host, 0))
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| format!("cannot find a free port on {host}: {e}"))
}

/// Ballista logs what the cluster does (executors registering and lost, stages retried)
/// through `log`: warnings and errors by default; RUST_LOG=info (or debug, trace, error,
/// off) sets the level for everything.
fn start_logging() {
    let level = match std::env::var("RUST_LOG").map(|v| v.trim().to_ascii_lowercase()) {
        Ok(v) => match v.as_str() {
            "off" => log::LevelFilter::Off,
            "error" => log::LevelFilter::Error,
            "info" => log::LevelFilter::Info,
            "debug" => log::LevelFilter::Debug,
            "trace" => log::LevelFilter::Trace,
            _ => log::LevelFilter::Warn,
        },
        Err(_) => log::LevelFilter::Warn,
    };
    if log::set_logger(&STDERR_LOG).is_ok() {
        log::set_max_level(level);
    }
}

/// Log lines on stderr: time, level, module, message.
struct StderrLog;

static STDERR_LOG: StderrLog = StderrLog;

impl log::Log for StderrLog {
    fn enabled(&self, metadata: &log::Metadata) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record) {
        if self.enabled(record.metadata()) {
            let since_epoch = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default();
            eprintln!(
                "[{}.{:03} {} {}] {}",
                since_epoch.as_secs(),
                since_epoch.subsec_millis(),
                record.level(),
                record.target(),
                record.args()
            );
        }
    }

    fn flush(&self) {}
}

pub async fn run(command: ClusterCommand) -> Result<(), String> {
    start_logging();
    match command {
        ClusterCommand::Scheduler { bind, settings } => {
            let bind = address("--bind", bind.as_deref().unwrap_or("127.0.0.1:50050"))?;
            let stores = settings.stores()?;
            let listener = tokio::net::TcpListener::bind(bind)
                .await
                .map_err(|e| format!("cannot listen on {bind}: {e}"))?;
            let addr = listener
                .local_addr()
                .map_err(|e| format!("cannot listen on {bind}: {e}"))?;
            warn_if_exposed("scheduler", &addr);
            eprintln!("prefdb cluster scheduler: listening on {addr}");
            eprintln!(
                "start executors with: prefdb cluster executor --scheduler {addr}; query with: prefdb sql --cluster df://{addr} ..."
            );
            tokio::select! {
                outcome = prefdb_cluster::run_scheduler(listener, stores) => outcome.map_err(crate::message),
                _ = prefdb::server::shutdown_signal() => {
                    eprintln!("prefdb cluster scheduler: shut down");
                    Ok(())
                }
            }
        }
        ClusterCommand::Executor {
            scheduler,
            bind,
            grpc_port,
            concurrency,
            work_dir,
            memory_limit,
            settings,
        } => {
            let scheduler_addr = address("--scheduler", &scheduler)?;
            let mut flight = address("--bind", bind.as_deref().unwrap_or("127.0.0.1:50051"))?;
            let grpc_port = match grpc_port {
                Some(port) => port,
                None if flight.port() == 0 => free_port(flight.ip())?,
                None => flight.port().checked_add(1).ok_or_else(|| {
                    "--bind: port 65535 leaves no room for the task port (give --grpc-port)"
                        .to_string()
                })?,
            };
            if flight.port() == 0 {
                flight.set_port(free_port(flight.ip())?);
            }
            warn_if_exposed("executor", &flight);
            let memory_limit = prefdb::limits::memory_limit_from(memory_limit.as_deref())
                .map_err(|e| format!("--memory-limit: {}", crate::message(e)))?;
            let options = prefdb_cluster::ExecutorOptions {
                scheduler: (scheduler_addr.ip().to_string(), scheduler_addr.port()),
                flight,
                grpc_port,
                concurrency: concurrency.unwrap_or(0),
                work_dir,
                memory_limit,
                stores: settings.stores()?,
            };
            wait_for(scheduler_addr).await?;
            eprintln!(
                "prefdb cluster executor: flight on {flight}, tasks on port {grpc_port}, scheduler {scheduler_addr}"
            );
            // Ballista's executor stops on ctrl-c and SIGTERM itself, after telling the
            // scheduler, so its tasks move elsewhere at once.
            prefdb_cluster::run_executor(options)
                .await
                .map_err(crate::message)?;
            eprintln!("prefdb cluster executor: shut down");
            Ok(())
        }
    }
}

/// Wait up to 30 s for the scheduler to accept connections, so that an executor started
/// together with its scheduler does not fail on the race.
async fn wait_for(scheduler: SocketAddr) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        match tokio::net::TcpStream::connect(scheduler).await {
            Ok(_) => return Ok(()),
            Err(e) if tokio::time::Instant::now() >= deadline => {
                return Err(format!(
                    "cannot reach the scheduler at {scheduler} (tried for 30 s): {e}"
                ))
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(200)).await,
        }
    }
}
