//! HTTP/1.1 keep-alive connections to deployments, pooled, driven by the task that sends.
//!
//! hyper-util's pooled client spawns a task per connection (every request and response crosses
//! a channel between tasks, often between threads) and a task per request to return the
//! connection, and hashes its pool key twice per request. Here a connection is hyper's
//! `client::conn::http1` pair (a `SendRequest` and its `Connection`), and whoever holds it polls
//! both: the socket's readiness wakes the task waiting for the answer, nothing else. Between
//! requests it sits in the pool unpolled; a checkout polls it once, which also notices a server
//! that closed it meanwhile (keep-alive timeouts: Node's default is 5 s).

use std::collections::VecDeque;
use std::fmt;
use std::future::{poll_fn, Future};
use std::pin::{pin, Pin};
use std::sync::Mutex;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use http::{HeaderMap, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full, Limited};
use hyper::client::conn::http1;
use tower_service::Service;

use super::{error_chain, HandlerConnector, POOL_IDLE_TIMEOUT};
use crate::sync::lock;

/// The stream of one connection (TCP, or TLS over TCP).
type Io = <HandlerConnector as Service<Uri>>::Response;

/// At most this many idle connections are kept (beyond the in-flight limits of a subscription).
const MAX_IDLE: usize = 1024;

/// A failed exchange.
#[derive(Debug, thiserror::Error)]
pub enum Http1Error {
    /// The origin is not `http(s)://authority`.
    #[error("invalid origin {origin:?}: {reason}")]
    Origin {
        /// The origin as given.
        origin: String,
        /// Why it is not one.
        reason: String,
    },
    /// TCP connect or TLS handshake failed.
    #[error("connect: {0}")]
    Connect(String),
    /// The request could not be sent or the answer not read.
    #[error("{0}")]
    Exchange(String),
}

/// An answer: the head, and the body unless it was over the limit or broke off.
#[derive(Debug)]
pub struct Http1Response {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The whole body, or `None` when it was longer than the limit or could not be read.
    pub body: Option<Bytes>,
}

/// Pooled HTTP/1.1 connections, for any number of origins (usually one: a subscription's
/// deployment). Idle connections are reused newest first; ones unused for
/// [`POOL_IDLE_TIMEOUT`] are closed when a connection is checked in (no timer: a pool nobody
/// uses keeps at most its peak concurrency of sockets until it is dropped with its invoker).
pub struct Http1Pool {
    connector: HandlerConnector,
    /// Oldest first (checkins push at the back), so expired ones are at the front.
    idle: Mutex<VecDeque<IdleConnection>>,
}

impl fmt::Debug for Http1Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Http1Pool")
            .field("idle", &lock(&self.idle).len())
            .finish_non_exhaustive()
    }
}

struct IdleConnection {
    /// Boxed: hyper's connection state is large, and the pool moves it in and out.
    connection: Box<Connection>,
    since: Instant,
}

/// One HTTP/1.1 connection: hyper's sender and the connection state machine it feeds.
struct Connection {
    origin: Box<str>,
    sender: http1::SendRequest<Full<Bytes>>,
    driver: Driver,
}

/// hyper's connection state machine, polled by whoever holds the connection.
struct Driver {
    /// `None` once it finished: dropping it hands requests it never wrote back to their
    /// senders (as not sent), which is what makes the one retry on a new connection possible.
    connection: Option<http1::Connection<Io, Full<Bytes>>>,
    /// Why it finished (the connection is closed).
    ended: Option<String>,
}

impl Http1Pool {
    /// A pool that opens connections with `connector` (see [`super::connector`]).
    pub fn new(connector: HandlerConnector) -> Self {
        Http1Pool {
            connector,
            idle: Mutex::new(VecDeque::new()),
        }
    }

    /// Sends `request` (origin-form URI and a `Host` header: the caller's job) to `origin`
    /// (`http://host:port`), and reads up to `max_body` bytes of the answer's body.
    ///
    /// A reused connection that turns out to be closed before the request went out (the
    /// server's keep-alive timeout ended it while it was idle) is replaced by a new one, once,
    /// as hyper-util's pool does: the request was not sent, so nothing is repeated.
    pub async fn send(
        &self,
        origin: &str,
        request: Request<Full<Bytes>>,
        max_body: usize,
    ) -> Result<Http1Response, Http1Error> {
        let (mut connection, reused) = match self.checkout(origin).await {
            Some(connection) => (connection, true),
            None => (self.connect(origin).await?, false),
        };
        let (outcome, reusable) = match connection.exchange(request, max_body).await {
            (Err(Exchange::NotSent(request)), _) if reused => {
                drop(connection);
                connection = self.connect(origin).await?;
                connection.exchange(*request, max_body).await
            }
            result => result,
        };
        if reusable && outcome.is_ok() {
            self.checkin(connection);
        }
        outcome.map_err(Exchange::into_error)
    }

    /// The newest idle connection to `origin` that is still open, if any.
    async fn checkout(&self, origin: &str) -> Option<Box<Connection>> {
        loop {
            let mut candidate = {
                let mut idle = lock(&self.idle);
                let at = idle.iter().rposition(|c| &*c.connection.origin == origin)?;
                idle.remove(at)?.connection
            };
            if candidate.ready().await {
                return Some(candidate);
            }
        }
    }

    fn checkin(&self, connection: Box<Connection>) {
        let now = Instant::now();
        let mut idle = lock(&self.idle);
        while idle
            .front()
            .is_some_and(|c| now.duration_since(c.since) >= POOL_IDLE_TIMEOUT)
        {
            idle.pop_front();
        }
        if idle.len() < MAX_IDLE {
            idle.push_back(IdleConnection {
                connection,
                since: now,
            });
        }
    }

    async fn connect(&self, origin: &str) -> Result<Box<Connection>, Http1Error> {
        let uri = Uri::try_from(origin).map_err(|e| Http1Error::Origin {
            origin: origin.to_owned(),
            reason: e.to_string(),
        })?;
        let mut connector = self.connector.clone();
        poll_fn(|cx| connector.poll_ready(cx))
            .await
            .map_err(|e| Http1Error::Connect(error_chain(&*e)))?;
        let io = connector
            .call(uri)
            .await
            .map_err(|e| Http1Error::Connect(error_chain(&*e)))?;
        let (sender, driver) = http1::Builder::new()
            // One buffer and one write() per request: the head and a small body copied
            // together cost less than hyper's vectored queue (callgrind: -600 instructions
            // per request).
            .writev(false)
            .handshake(io)
            .await
            .map_err(|e| Http1Error::Connect(error_chain(&e)))?;
        Ok(Box::new(Connection {
            origin: origin.into(),
            sender,
            driver: Driver {
                connection: Some(driver),
                ended: None,
            },
        }))
    }
}

/// How an exchange failed.
enum Exchange {
    /// The connection was closed before the request was written; here it is back.
    NotSent(Box<Request<Full<Bytes>>>),
    /// Anything else.
    Failed(String),
}

impl Exchange {
    fn into_error(self) -> Http1Error {
        match self {
            Exchange::NotSent(_) => Http1Error::Exchange("connection closed".to_owned()),
            Exchange::Failed(e) => Http1Error::Exchange(e),
        }
    }
}

impl Driver {
    /// Polls `poll` (something that needs the connection to make progress) while driving the
    /// connection (reads, writes, keep-alive bookkeeping), until `poll` is ready — or the
    /// connection has ended first, which gives why.
    async fn run_until<T>(
        &mut self,
        mut poll: impl FnMut(&mut Context<'_>) -> Poll<T>,
    ) -> Result<T, String> {
        poll_fn(|cx| {
            if let Some(connection) = self.connection.as_mut() {
                let ended = match Pin::new(connection).poll(cx) {
                    Poll::Pending => None,
                    Poll::Ready(Ok(())) => Some("connection closed".to_owned()),
                    Poll::Ready(Err(e)) => Some(error_chain(&e)),
                };
                if ended.is_some() {
                    self.connection = None;
                    self.ended = ended;
                }
            }
            match (poll(cx), &self.ended) {
                (Poll::Ready(value), _) => Poll::Ready(Ok(value)),
                (Poll::Pending, Some(why)) => Poll::Ready(Err(why.clone())),
                (Poll::Pending, None) => Poll::Pending,
            }
        })
        .await
    }
}

impl Connection {
    /// Whether the connection can take a request now (false: it is closed).
    async fn ready(&mut self) -> bool {
        let sender = &mut self.sender;
        let ready = self.driver.run_until(|cx| sender.poll_ready(cx)).await;
        matches!(ready, Ok(Ok(()))) && self.driver.ended.is_none()
    }

    /// Sends `request` and reads the answer; also says whether the connection may be reused.
    async fn exchange(
        &mut self,
        request: Request<Full<Bytes>>,
        max_body: usize,
    ) -> (Result<Http1Response, Exchange>, bool) {
        let mut answer = pin!(self.sender.try_send_request(request));
        let response = match self.driver.run_until(|cx| answer.as_mut().poll(cx)).await {
            Ok(Ok(response)) => response,
            Ok(Err(mut e)) => {
                let failure = match e.take_message() {
                    Some(request) => Exchange::NotSent(Box::new(request)),
                    None => Exchange::Failed(error_chain(e.error())),
                };
                return (Err(failure), false);
            }
            Err(why) => return (Err(Exchange::Failed(why)), false),
        };
        let (parts, body) = response.into_parts();
        let mut collect = pin!(Limited::new(body, max_body).collect());
        // An answer over the limit, or one that broke off, has no body, and its connection
        // cannot be reused.
        let body = match self.driver.run_until(|cx| collect.as_mut().poll(cx)).await {
            Ok(Ok(collected)) => Some(collected.to_bytes()),
            Ok(Err(_)) | Err(_) => None,
        };
        let reusable = body.is_some() && self.driver.ended.is_none();
        let response = Http1Response {
            status: parts.status,
            headers: parts.headers,
            body,
        };
        (Ok(response), reusable)
    }
}
