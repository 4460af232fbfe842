//! `prefdb serve`: the session over the Postgres wire protocol.
//!
//! Built on datafusion-postgres (pgwire, `pg_catalog` emulation, the extended protocol)
//! and adding what it leaves to the application: read-only statements by default
//! ([`policy`]), password authentication (SCRAM-SHA-256), refusal of unauthenticated
//! non-loopback listeners, a connection limit answered with SQLSTATE 53300, statement
//! deadlines and cancellation that cover execution ([`service`]), and a graceful shutdown.

mod copy_out;
mod cursors;
mod params;
pub mod pg_compat;
pub mod policy;
pub mod service;
mod sql_compat;

use crate::config::{Config, UserConfig};
use async_trait::async_trait;
use datafusion::common::{DataFusionError, Result};
use datafusion::prelude::SessionContext;
use datafusion_postgres::auth::AuthManager;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::setup_pg_catalog;
use datafusion_postgres::pgwire::api::auth::noop::NoopStartupHandler;
use datafusion_postgres::pgwire::api::auth::sasl::scram::{gen_salted_password, ScramAuth};
use datafusion_postgres::pgwire::api::auth::sasl::SASLAuthStartupHandler;
use datafusion_postgres::pgwire::api::auth::{
    AuthSource, DefaultServerParameterProvider, LoginInfo, Password, StartupHandler,
};
use datafusion_postgres::pgwire::api::cancel::{CancelHandler, DefaultCancelHandler};
use datafusion_postgres::pgwire::api::{ClientInfo, ConnectionManager, PgWireServerHandlers};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::cancel::CancelRequest;
use datafusion_postgres::pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use datafusion_postgres::pgwire::tokio::process_socket;
use datafusion_postgres::{DfSessionService, QueryHook};
use futures::Sink;
use std::collections::HashMap;
use std::fmt::Debug;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// The plan a query hook gives, at Parse, a statement it answers itself at Execute: no
/// input, and the columns its answer has (none for a command), for Describe.
pub(crate) fn answered_by_hook(
    columns: Vec<datafusion::arrow::datatypes::Field>,
) -> PgWireResult<datafusion::logical_expr::LogicalPlan> {
    let schema =
        datafusion::common::DFSchema::try_from(datafusion::arrow::datatypes::Schema::new(columns))
            .map_err(|e| PgWireError::ApiError(Box::new(e)))?;
    Ok(datafusion::logical_expr::LogicalPlan::EmptyRelation(
        datafusion::logical_expr::EmptyRelation {
            produce_one_row: false,
            schema: Arc::new(schema),
        },
    ))
}

pub use service::sqlstate;

/// Everything `prefdb serve` is told, after the config file and the flags are merged.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub listen: String,
    pub allow_ddl: bool,
    pub max_connections: usize,
    pub query_timeout: Option<Duration>,
    pub shutdown_grace: Duration,
    pub tls_cert: Option<String>,
    pub tls_key: Option<String>,
    pub users: Vec<UserConfig>,
}

impl Default for ServeOptions {
    fn default() -> Self {
        ServeOptions {
            listen: "127.0.0.1:5432".to_string(),
            allow_ddl: false,
            max_connections: 64,
            query_timeout: Some(Duration::from_secs(300)),
            shutdown_grace: Duration::from_secs(10),
            tls_cert: None,
            tls_key: None,
            users: Vec::new(),
        }
    }
}

impl ServeOptions {
    /// The `[server]` and `[[users]]` sections of a config file over the defaults.
    pub fn from_config(config: &Config) -> Self {
        let d = ServeOptions::default();
        let s = &config.server;
        ServeOptions {
            listen: s.listen.clone().unwrap_or(d.listen),
            allow_ddl: s.allow_ddl.unwrap_or(d.allow_ddl),
            max_connections: s.max_connections.unwrap_or(d.max_connections),
            query_timeout: match s.query_timeout_secs {
                Some(0) => None,
                Some(secs) => Some(Duration::from_secs(secs)),
                None => d.query_timeout,
            },
            shutdown_grace: s
                .shutdown_grace_secs
                .map(Duration::from_secs)
                .unwrap_or(d.shutdown_grace),
            tls_cert: s.tls_cert.clone(),
            tls_key: s.tls_key.clone(),
            users: config.users.clone(),
        }
    }
}

fn config_error(message: String) -> DataFusionError {
    DataFusionError::Configuration(message)
}

/// Passwords from the config file, served to SCRAM as salted hashes.
#[derive(Debug)]
struct Users {
    salted: HashMap<String, (Vec<u8>, Vec<u8>)>,
}

const SCRAM_ITERATIONS: usize = 4096;

impl Users {
    fn new(users: &[UserConfig]) -> Result<Self> {
        let mut salted = HashMap::new();
        for user in users {
            let password = user.resolve_password()?;
            let salt: [u8; 16] = rand::random();
            let hash = gen_salted_password(&password, &salt, SCRAM_ITERATIONS);
            if salted
                .insert(user.name.clone(), (salt.to_vec(), hash))
                .is_some()
            {
                return Err(config_error(format!(
                    "user '{}' is listed twice",
                    user.name
                )));
            }
        }
        Ok(Users { salted })
    }
}

#[async_trait]
impl AuthSource for Users {
    async fn get_password(&self, login: &LoginInfo) -> PgWireResult<Password> {
        let user = login.user().unwrap_or_default();
        match self.salted.get(user) {
            Some((salt, hash)) => Ok(Password::new(Some(salt.clone()), hash.clone())),
            None => Err(PgWireError::InvalidPassword(user.to_string())),
        }
    }
}

/// No authentication: for loopback listeners without `[[users]]`.
struct Trust {
    connections: Arc<ConnectionManager>,
}

impl NoopStartupHandler for Trust {
    fn connection_manager(&self) -> Option<Arc<ConnectionManager>> {
        Some(Arc::clone(&self.connections))
    }
}

/// How clients log in.
enum Startup {
    Trust(Trust),
    Scram(SASLAuthStartupHandler<DefaultServerParameterProvider>),
}

/// What a connection's startup handler is built from. The SCRAM handler keeps the
/// exchange's state, so each connection gets its own.
enum Auth {
    Trust,
    Scram {
        users: Arc<Users>,
        cert_pem: Option<Vec<u8>>,
    },
}

#[async_trait]
impl StartupHandler for Startup {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match self {
            Startup::Trust(h) => h.on_startup(client, message).await,
            Startup::Scram(h) => h.on_startup(client, message).await,
        }
    }
}

/// Answers every connection over the limit with FATAL 53300, as Postgres does.
struct TooManyClients {
    limit: usize,
}

#[async_trait]
impl StartupHandler for TooManyClients {
    async fn on_startup<C>(
        &self,
        _client: &mut C,
        _message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        Err(PgWireError::UserError(Box::new(ErrorInfo::new(
            "FATAL".to_string(),
            "53300".to_string(),
            format!(
                "sorry, too many clients already (this prefdb server allows {} connections)",
                self.limit
            ),
        ))))
    }
}

struct Rejecting(Arc<TooManyClients>);

impl PgWireServerHandlers for Rejecting {
    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        Arc::clone(&self.0)
    }
}

struct Handlers {
    service: Arc<service::Service>,
    auth: Auth,
    connections: Arc<ConnectionManager>,
    cancel: Arc<StopAndCancel>,
}

/// pgwire's cancel, which ends a statement at its next `await`, plus the statement's stop
/// flag, which ends a computation in the middle of a poll.
struct StopAndCancel {
    inner: DefaultCancelHandler,
    running: Arc<service::Running>,
}

#[async_trait]
impl CancelHandler for StopAndCancel {
    async fn on_cancel_request(&self, request: CancelRequest) {
        self.running
            .stop_cancelled(request.pid, &request.secret_key.to_bytes());
        self.inner.on_cancel_request(request).await;
    }
}

impl Handlers {
    fn new_startup(&self) -> Startup {
        match &self.auth {
            Auth::Trust => Startup::Trust(Trust {
                connections: Arc::clone(&self.connections),
            }),
            Auth::Scram { users, cert_pem } => {
                let mut scram = ScramAuth::new(Arc::clone(users) as Arc<dyn AuthSource>);
                scram.set_iterations(SCRAM_ITERATIONS);
                if let Some(pem) = cert_pem {
                    // Checked at bind time, so this cannot fail here.
                    let _ = scram.configure_certificate(pem);
                }
                Startup::Scram(
                    SASLAuthStartupHandler::new(
                        Arc::new(DefaultServerParameterProvider::default()),
                    )
                    .with_scram(scram)
                    .with_connection_manager(Arc::clone(&self.connections)),
                )
            }
        }
    }
}

impl PgWireServerHandlers for Handlers {
    fn simple_query_handler(
        &self,
    ) -> Arc<impl datafusion_postgres::pgwire::api::query::SimpleQueryHandler> {
        Arc::clone(&self.service)
    }

    fn extended_query_handler(
        &self,
    ) -> Arc<impl datafusion_postgres::pgwire::api::query::ExtendedQueryHandler> {
        Arc::clone(&self.service)
    }

    fn startup_handler(&self) -> Arc<impl StartupHandler> {
        Arc::new(self.new_startup())
    }

    fn error_handler(&self) -> Arc<impl datafusion_postgres::pgwire::api::ErrorHandler> {
        Arc::new(service::ErrorMapper)
    }

    fn cancel_handler(&self) -> Arc<impl CancelHandler> {
        Arc::clone(&self.cancel)
    }
}

fn load_tls(cert: &str, key: &str) -> Result<(tokio_rustls::TlsAcceptor, Vec<u8>)> {
    use tokio_rustls::rustls;
    let _ = rustls::crypto::ring::default_provider().install_default();
    let read = |path: &str| {
        std::fs::read(path).map_err(|e| config_error(format!("cannot read TLS file '{path}': {e}")))
    };
    let cert_pem = read(cert)?;
    let certs = rustls_pemfile::certs(&mut cert_pem.as_slice())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| config_error(format!("'{cert}' is not a PEM certificate: {e}")))?;
    if certs.is_empty() {
        return Err(config_error(format!("'{cert}' holds no PEM certificate")));
    }
    let key_pem = read(key)?;
    let key = rustls_pemfile::private_key(&mut key_pem.as_slice())
        .map_err(|e| config_error(format!("'{key}' is not a PEM private key: {e}")))?
        .ok_or_else(|| config_error(format!("'{key}' holds no private key")))?;
    let config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| config_error(format!("TLS certificate and key do not fit: {e}")))?;
    Ok((tokio_rustls::TlsAcceptor::from(Arc::new(config)), cert_pem))
}

/// How long a new connection may stay silent before it is closed.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(5);

/// Watch a connection for its client hanging up while a statement runs: pgwire reads the
/// socket only between statements, so without this a vanished client's statement would run
/// to its end. Watches a duplicate of the socket's descriptor; on end-of-file it stops the
/// statements of `peer` ([`service::Running::stop_peer`]). `None` if the descriptor cannot
/// be duplicated (the connection is then served without the watch).
fn watch_for_hangup(
    socket: &tokio::net::TcpStream,
    peer: SocketAddr,
    running: Arc<service::Running>,
) -> Option<tokio::task::JoinHandle<()>> {
    let dup = duplicate(socket).ok()?;
    Some(tokio::spawn(async move {
        let mut byte = [0u8; 1];
        loop {
            match dup.peek(&mut byte).await {
                // End of file: the client is gone.
                Ok(0) => break,
                // The client's next message waits for pgwire to read it; look again later.
                Ok(_) => tokio::time::sleep(Duration::from_millis(250)).await,
                Err(_) => break,
            }
        }
        running.stop_peer(peer);
    }))
}

#[cfg(unix)]
fn duplicate(socket: &tokio::net::TcpStream) -> std::io::Result<tokio::net::TcpStream> {
    use std::os::fd::AsFd;
    let owned = socket.as_fd().try_clone_to_owned()?;
    let std = std::net::TcpStream::from(owned);
    std.set_nonblocking(true)?;
    tokio::net::TcpStream::from_std(std)
}

#[cfg(not(unix))]
fn duplicate(_socket: &tokio::net::TcpStream) -> std::io::Result<tokio::net::TcpStream> {
    Err(std::io::Error::other("not supported"))
}

/// A bound, ready server. [`Server::run`] serves until the shutdown future resolves.
pub struct Server {
    listener: TcpListener,
    handlers: Arc<Handlers>,
    rejecting: Arc<Rejecting>,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limiter: Arc<Semaphore>,
    in_flight: Arc<AtomicUsize>,
    running: Arc<service::Running>,
    grace: Duration,
}

impl Server {
    /// Check the options, set up `pg_catalog`, and bind the listener.
    pub async fn bind(ctx: SessionContext, options: &ServeOptions) -> Result<Server> {
        let addr: SocketAddr = tokio::net::lookup_host(&options.listen)
            .await
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| {
                config_error(format!(
                    "cannot listen on '{}': expected host:port, as in 127.0.0.1:5432",
                    options.listen
                ))
            })?;
        if !addr.ip().is_loopback() && options.users.is_empty() {
            return Err(config_error(format!(
                "refusing to listen on {addr} without authentication: add [[users]] to the config file (see the README's Security section), or listen on 127.0.0.1"
            )));
        }
        if options.max_connections == 0 {
            return Err(config_error("max_connections must be at least 1".into()));
        }
        let (tls, cert_pem) = match (&options.tls_cert, &options.tls_key) {
            (Some(cert), Some(key)) => {
                let (acceptor, pem) = load_tls(cert, key)?;
                (Some(acceptor), Some(pem))
            }
            (None, None) => (None, None),
            _ => {
                return Err(config_error(
                    "TLS needs both --tls-cert and --tls-key".into(),
                ))
            }
        };

        // Not wrapped in an Arc: datafusion-pg-catalog 0.19's provider impl for `Arc<T>` calls
        // itself, so `pg_roles` recursed until the stack overflowed and aborted the server.
        setup_pg_catalog(&ctx, "prefdb", AuthManager::new())
            .map_err(|e| config_error(format!("cannot set up pg_catalog: {e}")))?;
        pg_compat::register(&ctx);
        pg_compat::register_function_catalog(&ctx, "prefdb")
            .await
            .map_err(|e| config_error(format!("cannot list functions in pg_proc: {e}")))?;

        let mut hooks: Vec<Arc<dyn QueryHook>> = vec![Arc::new(policy::Refusing::too_complex())];
        if !options.allow_ddl {
            hooks.push(Arc::new(policy::Refusing::read_only()));
        }
        hooks.push(Arc::new(policy::SavepointHook));
        hooks.push(Arc::new(pg_compat::SessionStatements));
        hooks.push(Arc::new(copy_out::CopyOut));
        // prefdb's cursors, then datafusion-postgres's own hooks in its order: SET/SHOW,
        // transactions.
        let cursors = Arc::new(cursors::Cursors::default());
        hooks.push(Arc::new(cursors::CursorHook(Arc::clone(&cursors))));
        hooks.push(Arc::new(datafusion_postgres::hooks::set_show::SetShowHook));
        hooks.push(Arc::new(
            datafusion_postgres::hooks::transactions::TransactionStatementHook,
        ));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let running = Arc::new(service::Running::default());
        let ctx = Arc::new(ctx);
        let inner = Arc::new(DfSessionService::new_with_hooks(Arc::clone(&ctx), hooks));
        let connections = Arc::new(ConnectionManager::new());
        let auth = if options.users.is_empty() {
            Auth::Trust
        } else {
            if let Some(pem) = &cert_pem {
                let mut probe = ScramAuth::new(Arc::new(Users::new(&[])?));
                probe
                    .configure_certificate(pem)
                    .map_err(|e| config_error(format!("TLS certificate for SCRAM: {e}")))?;
            }
            Auth::Scram {
                users: Arc::new(Users::new(&options.users)?),
                cert_pem: cert_pem.clone(),
            }
        };
        let handlers = Arc::new(Handlers {
            service: Arc::new(service::Service::new(
                inner,
                ctx,
                options.allow_ddl,
                options.query_timeout,
                Arc::clone(&in_flight),
                Arc::clone(&running),
                Arc::clone(&cursors),
            )),
            auth,
            cancel: Arc::new(StopAndCancel {
                inner: DefaultCancelHandler::new(Arc::clone(&connections)),
                running: Arc::clone(&running),
            }),
            connections,
        });
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|e| config_error(format!("cannot listen on {addr}: {e}")))?;
        Ok(Server {
            listener,
            handlers,
            rejecting: Arc::new(Rejecting(Arc::new(TooManyClients {
                limit: options.max_connections,
            }))),
            tls,
            limiter: Arc::new(Semaphore::new(options.max_connections)),
            in_flight,
            running,
            grace: options.shutdown_grace,
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .expect("a bound listener has an address")
    }

    /// Serve until `shutdown` resolves; then stop accepting, give running statements the
    /// grace period to finish, and close every connection.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) -> std::io::Result<()> {
        let mut tasks = JoinSet::new();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                _ = &mut shutdown => break,
                accepted = self.listener.accept() => {
                    while tasks.try_join_next().is_some() {}
                    let (socket, peer) = match accepted {
                        Ok(pair) => pair,
                        Err(e) => {
                            // Out of file descriptors and the like: back off, keep serving.
                            log::warn!("accept failed: {e}");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let tls = self.tls.clone();
                    let limiter = Arc::clone(&self.limiter);
                    let handlers = Arc::clone(&self.handlers);
                    let rejecting = Arc::clone(&self.rejecting);
                    let running = Arc::clone(&self.running);
                    tasks.spawn(async move {
                        // A socket that says nothing holds no connection slot: it has
                        // STARTUP_TIMEOUT to begin its startup packet, or it is closed.
                        let mut first = [0u8; 1];
                        match tokio::time::timeout(STARTUP_TIMEOUT, socket.peek(&mut first)).await {
                            Ok(Ok(n)) if n > 0 => {}
                            _ => return,
                        }
                        let Ok(permit) = limiter.try_acquire_owned() else {
                            let _ = tokio::time::timeout(
                                Duration::from_secs(5),
                                process_socket(socket, tls, rejecting),
                            )
                            .await;
                            return;
                        };
                        let watcher = watch_for_hangup(&socket, peer, running);
                        let cursors = handlers.service.cursors();
                        if let Err(e) = process_socket(socket, tls, handlers).await {
                            log::info!("connection from {peer} ended: {e}");
                        }
                        cursors.forget(peer);
                        if let Some(w) = watcher {
                            w.abort();
                        }
                        drop(permit);
                    });
                }
            }
        }
        drop(self.listener);
        let deadline = tokio::time::Instant::now() + self.grace;
        while self.in_flight.load(Ordering::SeqCst) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        // Statements still running are stopped: a kernel in the middle of a fit returns at
        // its next check, so the connections' tasks can end.
        self.running.stop_all();
        tasks.abort_all();
        let drained = async { while tasks.join_next().await.is_some() {} };
        if tokio::time::timeout(Duration::from_secs(5), drained)
            .await
            .is_err()
        {
            log::warn!("some connections did not close within 5 s of shutdown");
        }
        Ok(())
    }

    /// Statements running now.
    pub fn in_flight(&self) -> Arc<AtomicUsize> {
        Arc::clone(&self.in_flight)
    }
}

/// Resolves on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
