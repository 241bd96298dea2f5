//! One device's connection: connect, log in, send a batch, read and check the answer.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::encode::{osmand, teltonika, wialon, SimProtocol};
use crate::route::Sample;

#[derive(Debug, thiserror::Error)]
pub enum LinkError {
    #[error("connecting: {0}")]
    Connect(std::io::Error),
    #[error("socket: {0}")]
    Io(std::io::Error),
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("the server closed the connection")]
    Closed,
    #[error("unexpected answer: {0}")]
    BadAck(String),
}

impl LinkError {
    /// A short name to count errors by.
    pub fn kind(&self) -> &'static str {
        match self {
            LinkError::Connect(_) => "connect",
            LinkError::Io(_) => "io",
            LinkError::Timeout(_) => "timeout",
            LinkError::Closed => "closed",
            LinkError::BadAck(_) => "bad_ack",
        }
    }
}

/// Largest answer a simulated device accepts before calling it garbage.
const MAX_ANSWER: usize = 64 * 1024;

pub struct Link {
    stream: TcpStream,
    /// Bytes read but not yet consumed.
    buf: Vec<u8>,
    protocol: SimProtocol,
    device_id: String,
    host: String,
    timeout: Duration,
}

impl Link {
    /// Connects and logs in (Teltonika's IMEI handshake, Wialon's `#L#`; OsmAnd has none).
    pub async fn open(
        protocol: SimProtocol,
        addr: SocketAddr,
        device_id: &str,
        timeout: Duration,
    ) -> Result<Link, LinkError> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(addr))
            .await
            .map_err(|_| LinkError::Timeout(timeout))?
            .map_err(LinkError::Connect)?;
        // Small packets wait for their answer: Nagle would only add latency.
        let _ = stream.set_nodelay(true);
        let mut link = Link {
            stream,
            buf: Vec::with_capacity(64),
            protocol,
            device_id: device_id.to_owned(),
            host: addr.to_string(),
            timeout,
        };
        match protocol {
            SimProtocol::Teltonika => {
                link.send(&teltonika::login(device_id)).await?;
                let ack = link.read_exact(1).await?;
                if ack != [teltonika::LOGIN_ACK] {
                    return Err(LinkError::BadAck(format!("login answered {ack:02x?}")));
                }
            }
            SimProtocol::Wialon => {
                link.send(&wialon::login(device_id)).await?;
                let line = link.read_line().await?;
                if line != wialon::LOGIN_ACK {
                    return Err(LinkError::BadAck(String::from_utf8_lossy(&line).into()));
                }
            }
            SimProtocol::Osmand => {}
        }
        Ok(link)
    }

    /// Sends the samples as one message (pipelined requests for OsmAnd) and waits for the
    /// answer that says all of them are stored.
    pub async fn exchange(&mut self, samples: &[Sample]) -> Result<(), LinkError> {
        match self.protocol {
            SimProtocol::Teltonika => {
                self.send(&teltonika::codec8(samples)).await?;
                let ack = self.read_exact(4).await?;
                let count = ack
                    .try_into()
                    .map(teltonika::ack_count)
                    .map_err(|_| LinkError::Closed)?;
                if count as usize != samples.len() {
                    return Err(LinkError::BadAck(format!(
                        "{count} records acknowledged of {}",
                        samples.len()
                    )));
                }
            }
            SimProtocol::Wialon => {
                self.send(&wialon::packet(samples)).await?;
                let line = self.read_line().await?;
                if line != wialon::expected_ack(samples.len()) {
                    return Err(LinkError::BadAck(String::from_utf8_lossy(&line).into()));
                }
            }
            SimProtocol::Osmand => {
                self.send(&osmand::requests(&self.device_id, &self.host, samples))
                    .await?;
                for _ in samples {
                    let head = self.read_http_head().await?;
                    let status = osmand::status(&head);
                    let body = osmand::content_length(&head).unwrap_or(0);
                    self.read_exact(body).await?;
                    if status != Some(200) {
                        return Err(LinkError::BadAck(format!("HTTP status {status:?}")));
                    }
                }
            }
        }
        Ok(())
    }

    async fn send(&mut self, bytes: &[u8]) -> Result<(), LinkError> {
        tokio::time::timeout(self.timeout, self.stream.write_all(bytes))
            .await
            .map_err(|_| LinkError::Timeout(self.timeout))?
            .map_err(LinkError::Io)
    }

    /// Reads more bytes into the buffer.
    async fn fill(&mut self) -> Result<(), LinkError> {
        if self.buf.len() > MAX_ANSWER {
            return Err(LinkError::BadAck(format!(
                "{} bytes without a complete answer",
                self.buf.len()
            )));
        }
        let n = tokio::time::timeout(self.timeout, self.stream.read_buf(&mut self.buf))
            .await
            .map_err(|_| LinkError::Timeout(self.timeout))?
            .map_err(LinkError::Io)?;
        if n == 0 {
            return Err(LinkError::Closed);
        }
        Ok(())
    }

    async fn read_exact(&mut self, n: usize) -> Result<Vec<u8>, LinkError> {
        while self.buf.len() < n {
            self.fill().await?;
        }
        Ok(self.buf.drain(..n).collect())
    }

    /// One line, `\n` included.
    async fn read_line(&mut self) -> Result<Vec<u8>, LinkError> {
        loop {
            if let Some(nl) = self.buf.iter().position(|&b| b == b'\n') {
                return Ok(self.buf.drain(..=nl).collect());
            }
            self.fill().await?;
        }
    }

    /// A response's status line and headers, the blank line included.
    async fn read_http_head(&mut self) -> Result<Vec<u8>, LinkError> {
        loop {
            if let Some(end) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                return Ok(self.buf.drain(..end + 4).collect());
            }
            self.fill().await?;
        }
    }
}
