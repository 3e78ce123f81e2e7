//! The TLS connection to a registry, handed to the EPP client.
//!
//! The EPP client writes a command and then only reads; it never flushes. Over
//! TLS a write can leave encrypted bytes buffered when the socket is briefly
//! full, and without a flush they would wait for ever while the client waits for
//! the answer. [`Flushing`] therefore drives any buffered output on every read.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use instant_epp::Error;
use instant_epp::client::Connector;
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

pub struct Tls {
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) server_name: ServerName<'static>,
    pub(crate) config: Arc<rustls::ClientConfig>,
}

#[async_trait::async_trait]
impl Connector for Tls {
    type Connection = Flushing;

    async fn connect(&self, timeout: Duration) -> Result<Flushing, Error> {
        let connect = async {
            let tcp = TcpStream::connect((self.host.as_str(), self.port)).await?;
            // Commands and answers are single small frames: send them at once.
            tcp.set_nodelay(true)?;
            TlsConnector::from(self.config.clone()).connect(self.server_name.clone(), tcp).await
        };
        match tokio::time::timeout(timeout, connect).await {
            Ok(Ok(tls)) => Ok(Flushing(Box::new(tls))),
            Ok(Err(e)) => Err(Error::Io(e)),
            Err(_) => Err(Error::Timeout),
        }
    }
}

/// A TLS stream that flushes pending output whenever it is read.
pub struct Flushing(Box<TlsStream<TcpStream>>);

impl AsyncRead for Flushing {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        if let Poll::Ready(Err(e)) = Pin::new(&mut *self.0).poll_flush(cx) {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut *self.0).poll_read(cx, buf)
    }
}

impl AsyncWrite for Flushing {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut *self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *self.0).poll_shutdown(cx)
    }
}
