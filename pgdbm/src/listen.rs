//! LISTEN/NOTIFY on a connection of its own.
//!
//! A listener is session state, so it never uses a pooled or multiplexed
//! connection: [`Database::listen`] opens a dedicated one (same server, TLS
//! and settings as the pool), LISTENs, and forwards notifications to a
//! stream. When that connection is lost it reconnects with backoff and
//! LISTENs again; notifications sent while it was away are lost, which the
//! stream says with one `Err` item before it carries on.
//!
//! Channels are namespaced by the manager's schema (`"tenant.jobs"` for
//! channel `jobs` in schema `tenant`), so [`Database::notify`] and
//! [`Database::listen`] of one schema agree and tenants never hear each
//! other; [`Database::listen_raw`] and [`Database::notify_raw`] use a
//! channel name as given.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{AsyncMessage, NoTls, Socket};

use crate::config::DatabaseConfig;
use crate::database::Database;
use crate::error::{DriverError, Error, Result};
use crate::ident;
use crate::tls::Tls;

/// How many notifications wait in the stream before the listener stops
/// reading its connection (the server then buffers them).
const BUFFER: usize = 1024;

/// One notification, from a [`Listener`].
///
/// ```no_run
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// use futures_util::StreamExt;
/// let mut jobs = db.listen(&["jobs"]).await?;
/// if let Some(Ok(n)) = jobs.next().await {
///     println!("{} from backend {}: {}", n.channel, n.process_id, n.payload);
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Notification {
    /// The channel as the listener named it (without the schema prefix).
    pub channel: String,
    /// The payload (`''` when none was given).
    pub payload: String,
    /// The backend that sent it.
    pub process_id: i32,
}

/// A stream of notifications on a dedicated connection, from
/// [`Database::listen`]. Dropping it closes the connection.
///
/// An `Err` item means the connection was lost: the listener reconnects
/// and LISTENs again by itself, and notifications sent meanwhile may be
/// lost; the stream goes on. It ends only when it is dropped.
///
/// ```no_run
/// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
/// use futures_util::StreamExt;
/// let mut events = db.listen(&["orders", "refunds"]).await?;
/// while let Some(event) = events.next().await {
///     match event {
///         Ok(n) => println!("{}: {}", n.channel, n.payload),
///         Err(e) => eprintln!("listener reconnected, some notifications may be lost: {e}"),
///     }
/// }
/// # Ok(()) }
/// ```
pub struct Listener {
    events: mpsc::Receiver<Result<Notification>>,
    task: tokio::task::JoinHandle<()>,
}

impl std::fmt::Debug for Listener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listener").finish_non_exhaustive()
    }
}

impl Stream for Listener {
    type Item = Result<Notification>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.events.poll_recv(cx)
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The channels a listener LISTENs to: (name on the server, name reported).
#[derive(Clone)]
struct Channels(Vec<(String, String)>);

impl Channels {
    fn listen_sql(&self) -> String {
        self.0
            .iter()
            .map(|(server, _)| format!("LISTEN {};", ident::quote(server)))
            .collect()
    }

    fn reported(&self, server: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(s, _)| s == server)
            .map(|(_, reported)| reported.as_str())
    }
}

/// `channel` as it is named on the server for `schema`.
fn namespaced(schema: Option<&str>, channel: &str) -> String {
    match schema {
        Some(schema) => format!("{schema}.{channel}"),
        None => channel.to_owned(),
    }
}

impl Database {
    /// Listens on `channels` of this manager's schema, on a connection of
    /// its own (see [`Listener`]). Returns once every LISTEN is in place, so
    /// a notification sent after this returns is received.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// use futures_util::StreamExt;
    /// let mut jobs = db.listen(&["jobs"]).await?;
    /// db.notify("jobs", "42").await?;
    /// let n = jobs.next().await.unwrap()?;
    /// assert_eq!((n.channel.as_str(), n.payload.as_str()), ("jobs", "42"));
    /// # Ok(()) }
    /// ```
    pub async fn listen(&self, channels: &[&str]) -> Result<Listener> {
        let schema = self.schema();
        self.listen_on(
            channels
                .iter()
                .map(|c| (namespaced(schema, c), (*c).to_owned()))
                .collect(),
        )
        .await
    }

    /// Listens on `channels` exactly as named, whatever the schema.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// let everyone = db.listen_raw(&["cache_invalidation"]).await?;
    /// # Ok(()) }
    /// ```
    pub async fn listen_raw(&self, channels: &[&str]) -> Result<Listener> {
        self.listen_on(
            channels
                .iter()
                .map(|c| ((*c).to_owned(), (*c).to_owned()))
                .collect(),
        )
        .await
    }

    /// Sends `payload` on `channel` of this manager's schema (what
    /// [`listen`](Self::listen) of the same schema hears).
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// db.notify("jobs", "run 17").await?;
    /// # Ok(()) }
    /// ```
    pub async fn notify(&self, channel: &str, payload: &str) -> Result<()> {
        self.notify_raw(&namespaced(self.schema(), channel), payload)
            .await
    }

    /// Sends `payload` on `channel` exactly as named.
    ///
    /// ```no_run
    /// # async fn f(db: pgdbm::Database) -> pgdbm::Result<()> {
    /// db.notify_raw("cache_invalidation", "users").await?;
    /// # Ok(()) }
    /// ```
    pub async fn notify_raw(&self, channel: &str, payload: &str) -> Result<()> {
        ident::validate("channel", channel)?;
        // A function call, so the name and payload are parameters, never SQL.
        self.execute("SELECT pg_catalog.pg_notify($1, $2)", &[&channel, &payload])
            .await
            .map(drop)
    }

    async fn listen_on(&self, channels: Vec<(String, String)>) -> Result<Listener> {
        for (server, _) in &channels {
            ident::validate("channel", server)?;
        }
        let config = self.pool().config().clone();
        let tls = Tls::from_config(&config)?;
        let channels = Channels(channels);
        let (events, rx) = mpsc::channel(BUFFER);
        let (ready, is_ready) = tokio::sync::oneshot::channel();
        let task = tokio::spawn(listen_forever(config, tls, channels, events, ready));
        match is_ready.await {
            Ok(Ok(())) => Ok(Listener { events: rx, task }),
            Ok(Err(e)) => {
                task.abort();
                Err(e)
            }
            Err(_) => Err(lost("the listener stopped before it was ready")),
        }
    }
}

fn lost(message: &str) -> Error {
    Error::ConnectionClosed(Box::new(DriverError::message_only(message)))
}

/// Listens until `events` is dropped: the first session's outcome goes to
/// `ready`; later sessions replace lost ones, with backoff.
async fn listen_forever(
    config: DatabaseConfig,
    tls: Tls,
    channels: Channels,
    events: mpsc::Sender<Result<Notification>>,
    ready: tokio::sync::oneshot::Sender<Result<()>>,
) {
    let mut ready = Some(ready);
    let mut delay = config.retry_delay.min(Duration::from_millis(100));
    loop {
        let ended = session(&config, &tls, &channels, &events, &mut ready).await;
        if let Some(ready) = ready.take() {
            // The first connect failed: the caller gets the error.
            let _ = ready.send(Err(ended.err().unwrap_or_else(|| lost("listener ended"))));
            return;
        }
        if events.is_closed() {
            return;
        }
        let e = ended
            .err()
            .unwrap_or_else(|| lost("the listener's connection ended"));
        tracing::warn!(target: "pgdbm", error = %e, "listener lost its connection; reconnecting");
        let gap = lost(&format!(
            "the listener's connection was lost and is being replaced; notifications sent \
             meanwhile may be lost ({e})"
        ));
        if events.send(Err(gap)).await.is_err() {
            return;
        }
        tokio::time::sleep(delay).await;
        delay = delay
            .mul_f64(config.retry_backoff)
            .min(config.retry_max_delay);
    }
}

/// One connection: LISTEN, tell `ready` (the first time), forward until the
/// connection ends or nobody listens any more.
async fn session(
    config: &DatabaseConfig,
    tls: &Tls,
    channels: &Channels,
    events: &mpsc::Sender<Result<Notification>>,
    ready: &mut Option<tokio::sync::oneshot::Sender<Result<()>>>,
) -> Result<()> {
    let pg = config.pg_config(None);
    match tls.connector() {
        Some(connector) if !crate::tls::is_unix_socket(&pg) => {
            session_with(&pg, connector.clone(), channels, events, ready).await
        }
        _ => session_with(&pg, NoTls, channels, events, ready).await,
    }
}

async fn session_with<T>(
    pg: &tokio_postgres::Config,
    tls: T,
    channels: &Channels,
    events: &mpsc::Sender<Result<Notification>>,
    ready: &mut Option<tokio::sync::oneshot::Sender<Result<()>>>,
) -> Result<()>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
{
    let target = crate::error::ConnectTarget::of(pg);
    let (client, mut connection) = pg
        .connect(tls)
        .await
        .map_err(|e| Error::connect_to(e, &target))?;
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    let sql = channels.listen_sql();
    let listening = client.batch_execute(&sql);
    tokio::pin!(listening);
    // The connection must be polled for the LISTEN to be answered.
    loop {
        tokio::select! {
            done = &mut listening => {
                done.map_err(|e| Error::from_driver(e, Some(&sql)))?;
                break;
            }
            message = messages.next() => match message {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(Error::from_driver(e, Some(&sql))),
                None => return Err(lost("the listener's connection closed")),
            },
        }
    }
    if let Some(ready) = ready.take() {
        let _ = ready.send(Ok(()));
    }
    loop {
        match messages.next().await {
            Some(Ok(AsyncMessage::Notification(n))) => {
                let Some(channel) = channels.reported(n.channel()) else {
                    continue;
                };
                let notification = Notification {
                    channel: channel.to_owned(),
                    payload: n.payload().to_owned(),
                    process_id: n.process_id(),
                };
                if events.send(Ok(notification)).await.is_err() {
                    return Ok(());
                }
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return Err(Error::from_driver(e, None)),
            None => return Err(lost("the listener's connection closed")),
        }
    }
}
