//! One connection to one broker: framing, correlation ids, pipelined requests, per-request
//! timeouts.
//!
//! A writer holds the socket's write half under an async mutex for the length of one frame;
//! a reader task reads response frames and hands each to the request waiting for its
//! correlation id. Any I/O error, a frame over the size limit, or a request timeout closes the
//! connection and fails every pending request: after a timeout the byte stream can no longer
//! be trusted to line up with the requests (this is what librdkafka and the Java client do).

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use kafka_proto::{decode_response, encode_request, DecodeError, EncodeError, Request};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::sync::lock;

/// A byte stream to a broker: plain TCP, or TLS over TCP.
pub trait Transport: AsyncRead + AsyncWrite + Send + Unpin + 'static {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin + 'static> Transport for T {}

/// A boxed [`Transport`].
pub type BoxedTransport = Box<dyn Transport>;

/// Why a request on a connection failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ConnectionError {
    /// Connecting failed.
    #[error("cannot connect to broker {addr}: {reason}")]
    Connect {
        /// The broker address.
        addr: String,
        /// Why.
        reason: String,
    },
    /// The connection is closed (by the broker, an I/O error or an earlier timeout).
    #[error("connection to broker {addr} closed: {reason}")]
    Closed {
        /// The broker address.
        addr: String,
        /// Why it closed.
        reason: String,
    },
    /// The broker did not answer within the request timeout.
    #[error("{api} request to broker {addr} timed out after {timeout:?}")]
    Timeout {
        /// The broker address.
        addr: String,
        /// The API name.
        api: &'static str,
        /// The timeout that elapsed.
        timeout: Duration,
    },
    /// The request could not be encoded.
    #[error("cannot encode {api} request: {source}")]
    Encode {
        /// The API name.
        api: &'static str,
        /// The encoder's error.
        source: EncodeError,
    },
    /// The broker's response could not be decoded.
    #[error("malformed {api} v{version} response from broker {addr}: {source}")]
    Decode {
        /// The broker address.
        addr: String,
        /// The API name.
        api: &'static str,
        /// The version used.
        version: i16,
        /// The decoder's error.
        source: DecodeError,
    },
    /// A response frame was larger than the configured maximum.
    #[error("response frame of {size} bytes from broker {addr} exceeds receive.message.max.bytes ({max})")]
    FrameTooLarge {
        /// The broker address.
        addr: String,
        /// The announced frame size.
        size: i64,
        /// The limit.
        max: usize,
    },
}

type Pending = Arc<Mutex<HashMap<i32, oneshot::Sender<Result<Bytes, ConnectionError>>>>>;

/// A live connection to one broker.
pub struct BrokerConnection {
    addr: String,
    client_id: Option<String>,
    next_correlation_id: AtomicI32,
    writer: tokio::sync::Mutex<WriteHalf<BoxedTransport>>,
    pending: Pending,
    closed: Arc<AtomicBool>,
    close_reason: Arc<Mutex<Option<String>>>,
    reader: JoinHandle<()>,
}

impl std::fmt::Debug for BrokerConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BrokerConnection")
            .field("addr", &self.addr)
            .field("closed", &self.is_closed())
            .finish_non_exhaustive()
    }
}

impl BrokerConnection {
    /// Wraps an established transport. `max_frame` bounds the size of a response frame.
    pub fn new(
        addr: impl Into<String>,
        transport: BoxedTransport,
        client_id: Option<String>,
        max_frame: usize,
    ) -> Self {
        let addr = addr.into();
        let (read_half, write_half) = tokio::io::split(transport);
        let pending: Pending = Arc::default();
        let closed = Arc::new(AtomicBool::new(false));
        let close_reason = Arc::new(Mutex::new(None));
        let reader = tokio::spawn(read_loop(
            addr.clone(),
            read_half,
            pending.clone(),
            closed.clone(),
            close_reason.clone(),
            max_frame,
        ));
        BrokerConnection {
            addr,
            client_id,
            next_correlation_id: AtomicI32::new(1),
            writer: tokio::sync::Mutex::new(write_half),
            pending,
            closed,
            close_reason,
            reader,
        }
    }

    /// The broker address this connection goes to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// Whether the connection is closed; a closed connection fails every request.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Sends `request` at `version` and waits up to `timeout` for its response.
    pub async fn send<R: Request>(
        &self,
        request: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<R::Response, ConnectionError> {
        let frame = self.send_raw(request, version, timeout).await?;
        decode_response::<R>(frame, version)
            .map(|(_, body)| body)
            .map_err(|source| ConnectionError::Decode {
                addr: self.addr.clone(),
                api: R::API_KEY.name(),
                version,
                source,
            })
    }

    /// Sends `request` and returns the raw response frame (header included).
    pub async fn send_raw<R: Request>(
        &self,
        request: &R,
        version: i16,
        timeout: Duration,
    ) -> Result<Bytes, ConnectionError> {
        let api = R::API_KEY.name();
        if self.is_closed() {
            return Err(self.closed_error());
        }
        let correlation_id = self.next_correlation_id.fetch_add(1, Ordering::Relaxed);
        let frame: BytesMut =
            encode_request(request, version, correlation_id, self.client_id.as_deref())
                .map_err(|source| ConnectionError::Encode { api, source })?;
        let (tx, rx) = oneshot::channel();
        lock(&self.pending).insert(correlation_id, tx);
        let result = tokio::time::timeout(timeout, async {
            {
                let mut w = self.writer.lock().await;
                if let Err(e) = w.write_all(&frame).await {
                    self.close(format!("write failed: {e}"));
                    return Err(self.closed_error());
                }
            }
            match rx.await {
                Ok(r) => r,
                Err(_) => Err(self.closed_error()),
            }
        })
        .await;
        match result {
            Ok(r) => r,
            Err(_) => {
                lock(&self.pending).remove(&correlation_id);
                self.close(format!("{api} request timed out after {timeout:?}"));
                Err(ConnectionError::Timeout {
                    addr: self.addr.clone(),
                    api,
                    timeout,
                })
            }
        }
    }

    fn closed_error(&self) -> ConnectionError {
        ConnectionError::Closed {
            addr: self.addr.clone(),
            reason: lock(&self.close_reason)
                .clone()
                .unwrap_or_else(|| "closed".to_owned()),
        }
    }

    /// Closes the connection and fails every pending request with `reason`.
    pub fn close(&self, reason: String) {
        close_all(
            &self.addr,
            &self.pending,
            &self.closed,
            &self.close_reason,
            reason,
        );
        self.reader.abort();
    }
}

impl Drop for BrokerConnection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

fn close_all(
    addr: &str,
    pending: &Pending,
    closed: &AtomicBool,
    close_reason: &Mutex<Option<String>>,
    reason: String,
) {
    closed.store(true, Ordering::SeqCst);
    lock(close_reason).get_or_insert(reason.clone());
    let waiters: Vec<_> = lock(pending).drain().collect();
    for (_, tx) in waiters {
        let _ = tx.send(Err(ConnectionError::Closed {
            addr: addr.to_owned(),
            reason: reason.clone(),
        }));
    }
}

async fn read_loop(
    addr: String,
    mut read_half: ReadHalf<BoxedTransport>,
    pending: Pending,
    closed: Arc<AtomicBool>,
    close_reason: Arc<Mutex<Option<String>>>,
    max_frame: usize,
) {
    let reason = loop {
        let size = match read_half.read_i32().await {
            Ok(s) => s,
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => {
                break "closed by the broker".to_owned()
            }
            Err(e) => break format!("read failed: {e}"),
        };
        if size < 4 {
            break format!("invalid response frame size {size}");
        }
        if size as usize > max_frame {
            break ConnectionError::FrameTooLarge {
                addr: addr.clone(),
                size: i64::from(size),
                max: max_frame,
            }
            .to_string();
        }
        let mut frame = BytesMut::zeroed(size as usize);
        if let Err(e) = read_half.read_exact(&mut frame).await {
            break format!("read failed mid-frame: {e}");
        }
        let frame = frame.freeze();
        let correlation_id = i32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]);
        // A response nobody waits for any more is dropped.
        if let Some(tx) = lock(&pending).remove(&correlation_id) {
            let _ = tx.send(Ok(frame));
        }
    };
    close_all(&addr, &pending, &closed, &close_reason, reason);
}
