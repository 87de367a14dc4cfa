//! `s3:GetObject`: one object's bytes, gunzipped as the body streams in, and
//! fetched again from its start when the body breaks off.
//!
//! The SDK retries a request that fails before its response starts (5xx,
//! throttling, resets, timeouts: [`Net::retries`]); once `GetObject` has
//! returned, the body streams outside that loop, so a reset, a body cut
//! short or a stall there is retried here, with backoff and jitter, up to
//! `--max-attempts` tries. A stall is no bytes for `--read-timeout`: an
//! idle timer here, beside the SDK's stalled-stream protection with the
//! same grace ([`Net::stalls`]), whichever fires first. A body is complete when it has
//! the `Content-Length` S3 announced. An attempt's bytes stay here until
//! the object is complete, so nothing of a failed attempt is ever counted.
//! What trying again cannot mend (a corrupt gzip of the full length,
//! `NoSuchKey`, `AccessDenied`) fails at once.

use std::io::Write;
use std::time::Duration;

use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use flate2::write::MultiGzDecoder;

use crate::source::aws::{Net, backoff, explain};

/// Fetches objects of one bucket.
pub(super) struct Getter {
    pub(super) client: aws_sdk_s3::Client,
    pub(super) bucket: String,
    pub(super) net: Net,
}

/// Why an object could not be had, and whether a later try may mend it.
#[derive(Debug)]
pub(super) struct Failure {
    pub(super) reason: String,
    pub(super) mend: Mend,
}

/// What may mend a failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mend {
    /// The body broke off: fetch the object again now.
    Again,
    /// The request failed after the SDK's own retries (5xx, throttling,
    /// timeouts, the network): worth a last pass once the rest is done.
    Later,
    /// Nothing will (a corrupt object, no such key, access denied).
    Never,
}

impl Failure {
    fn new(mend: Mend, reason: String) -> Self {
        Self { reason, mend }
    }

    fn body(got: u64, why: impl std::fmt::Display) -> Self {
        Self::new(
            Mend::Again,
            format!("s3:GetObject body broke off after {got} bytes: {why}"),
        )
    }
}

impl Getter {
    /// The object's bytes (gunzipped), trying a broken body again.
    pub(super) async fn object(&self, key: &str) -> Result<Vec<u8>, Failure> {
        let mut attempt = 1;
        loop {
            match self.attempt(key).await {
                Err(f) if f.mend == Mend::Again && attempt < self.net.max_attempts => {
                    let wait =
                        backoff(attempt, Duration::from_millis(500), Duration::from_secs(10));
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                }
                Err(mut f) if f.mend == Mend::Again => {
                    f.reason = format!("{} ({attempt} attempts)", f.reason);
                    return Err(f);
                }
                done => return done,
            }
        }
    }

    /// One `GetObject` and its whole body.
    async fn attempt(&self, key: &str) -> Result<Vec<u8>, Failure> {
        let req = self.client.get_object().bucket(&self.bucket).key(key);
        let resp = req.send().await.map_err(|e| request_failure(&e))?;
        let expected = resp.content_length().and_then(|n| u64::try_from(n).ok());
        let mut body = resp.body;
        let mut sink = Body::default();
        let mut got = 0u64;
        loop {
            let Ok(next) = tokio::time::timeout(self.net.read, body.next()).await else {
                let secs = self.net.read.as_secs_f64();
                return Err(Failure::body(
                    got,
                    format_args!("no bytes for {secs} s (`--read-timeout`)"),
                ));
            };
            let Some(chunk) = next else { break };
            let chunk = chunk.map_err(|e| Failure::body(got, DisplayErrorContext(&e)))?;
            got += chunk.len() as u64;
            if let Err(e) = sink.write(&chunk) {
                return Err(Failure::new(Mend::Never, format!("gzip: {e}")));
            }
        }
        if let Some(n) = expected.filter(|n| *n != got) {
            return Err(Failure::body(got, format_args!("{n} bytes were announced")));
        }
        sink.finish().map_err(|e| {
            // Without a length to check, a gzip that ends early may be a
            // stream that did.
            let mend = if expected.is_none() {
                Mend::Again
            } else {
                Mend::Never
            };
            Failure::new(mend, format!("gzip: {e}"))
        })
    }
}

/// A `GetObject` that failed before its body: worth a later pass only when
/// the SDK's retries could have mended it.
fn request_failure<E: ProvideErrorMetadata + std::error::Error + 'static>(
    e: &SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
) -> Failure {
    let mend = match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Mend::Later
        }
        SdkError::ServiceError(s) => {
            let throttled = s
                .err()
                .code()
                .is_some_and(|c| c.contains("Throttl") || c == "SlowDown");
            if throttled || s.raw().status().is_server_error() {
                Mend::Later
            } else {
                Mend::Never
            }
        }
        _ => Mend::Never,
    };
    Failure::new(
        mend,
        explain("s3:GetObject", &DisplayErrorContext(e).to_string()),
    )
}

/// A body that decides on its first bytes whether it is gzip.
#[derive(Default)]
enum Body {
    #[default]
    Start,
    Plain(Vec<u8>),
    Gzip(Box<MultiGzDecoder<Vec<u8>>>),
}

impl Body {
    fn write(&mut self, chunk: &[u8]) -> std::io::Result<()> {
        if matches!(self, Body::Start) {
            *self = if chunk.starts_with(&[0x1f, 0x8b]) {
                Body::Gzip(Box::new(MultiGzDecoder::new(Vec::with_capacity(
                    chunk.len() * 8,
                ))))
            } else {
                Body::Plain(Vec::new())
            };
        }
        match self {
            Body::Start => Ok(()),
            Body::Plain(v) => {
                v.extend_from_slice(chunk);
                Ok(())
            }
            Body::Gzip(d) => d.write_all(chunk),
        }
    }

    fn finish(self) -> std::io::Result<Vec<u8>> {
        match self {
            Body::Start => Ok(Vec::new()),
            Body::Plain(v) => Ok(v),
            Body::Gzip(d) => d.finish(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Body;

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    fn through(chunks: &[&[u8]]) -> std::io::Result<Vec<u8>> {
        let mut b = Body::default();
        for c in chunks {
            b.write(c)?;
        }
        b.finish()
    }

    #[test]
    fn bodies_gunzip_across_chunks_and_a_cut_gzip_is_an_error() {
        let text = br#"{"Records":[]}"#.repeat(50);
        let gz = gzip(&text);
        let (a, b) = gz.split_at(7);
        assert_eq!(through(&[a, b]).unwrap(), text);
        assert_eq!(through(&[&text[..3], &text[3..]]).unwrap(), text);
        assert!(through(&[&gz[..gz.len() / 2]]).is_err(), "half a gzip");
    }
}
