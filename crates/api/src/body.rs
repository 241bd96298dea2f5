//! A call's body, read within `api.max_body_bytes`.

use std::time::Duration;

use axum::body::Body;
use http_body_util::BodyExt;

use crate::error::ApiError;

/// What of an oversized body is still read, and dropped, before the answer. Most clients
/// write their whole body before they read: answering at once and closing would leave them a
/// reset connection instead of error 9 (servers linger like this for the same reason). Past
/// either bound the connection is closed regardless.
const DRAIN_BYTES: usize = 16 * 1024 * 1024;
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// The body, or error 9 when it is longer than `limit` (by its `Content-Length`, or as it
/// arrives) or breaks off.
pub(crate) async fn read(
    mut body: Body,
    limit: usize,
    declared: Option<usize>,
) -> Result<Vec<u8>, ApiError> {
    let mut bytes = Vec::new();
    let mut seen = 0usize;
    if declared.is_none_or(|n| n <= limit) {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| ApiError::new(9))?;
            let Ok(data) = frame.into_data() else {
                continue;
            };
            seen += data.len();
            if seen > limit {
                break;
            }
            bytes.extend_from_slice(&data);
        }
        if seen <= limit {
            return Ok(bytes);
        }
    }
    drop(bytes);
    let _ = tokio::time::timeout(DRAIN_TIME, async {
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |d| d.len());
            if seen > DRAIN_BYTES {
                break;
            }
        }
    })
    .await;
    Err(ApiError::new(9))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: Result<Vec<u8>, ApiError>) -> Option<u16> {
        r.err().map(|e| e.code)
    }

    #[tokio::test]
    async fn a_body_within_the_limit_is_read_whole() {
        let body = Body::from(vec![7u8; 100]);
        assert_eq!(read(body, 100, Some(100)).await.unwrap(), vec![7u8; 100]);
        assert_eq!(
            read(Body::empty(), 100, None).await.unwrap(),
            Vec::<u8>::new()
        );
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_error_9_declared_or_not() {
        // Found while reading (a chunked body declares no length).
        assert_eq!(
            code(read(Body::from(vec![0u8; 101]), 100, None).await),
            Some(9)
        );
        // Refused by its declared length, whatever actually arrives.
        assert_eq!(
            code(read(Body::from(vec![0u8; 10]), 100, Some(101)).await),
            Some(9)
        );
    }
}
