//! Request body limits that answer instead of resetting the connection. A body over its route's
//! limit is read to its end (up to a drain cap) and thrown away before the handler learns it was
//! too large, so the browser, still sending, receives the answer (the page's own "too large"
//! message) instead of a connection reset. Past the drain cap the connection is dropped.

use axum::{
    body::{Body, Bytes},
    extract::{Request, State},
    middleware::Next,
    response::Response,
};
use http_body::{Body as HttpBody, Frame};
use http_body_util::Limited;
use std::{
    pin::Pin,
    task::{ready, Context, Poll},
};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The limits: `uploads` for attachment posts, `other` for everything else.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub uploads: usize,
    pub other: usize,
}

impl Limits {
    pub fn for_path(&self, path: &str) -> usize {
        if path.starts_with("/l/") && path.ends_with("/do/attach") {
            self.uploads
        } else {
            self.other
        }
    }
}

/// How much more than its limit a body may send before we stop reading it.
pub fn drain_cap(limit: usize) -> usize {
    limit.saturating_mul(4).max(limit.saturating_add(64 * 1024 * 1024)).min(1 << 30)
}

pin_project_lite::pin_project! {
    /// A body that passes at most `limit` bytes; past that it reads the rest of the body (up to
    /// `cap`) and drops it, then yields one frame that takes the total over `limit`, so the
    /// [`Limited`] around it ends the body with a [`LengthLimitError`], which axum's extractors
    /// answer as 413 and handlers see as "too large".
    pub struct Draining<B> {
        #[pin]
        inner: B,
        passed: usize,
        seen: usize,
        limit: usize,
        cap: usize,
        over: bool,
    }
}

impl<B> Draining<B> {
    pub fn new(inner: B, limit: usize) -> Self {
        Draining { inner, passed: 0, seen: 0, limit, cap: drain_cap(limit), over: false }
    }

    /// The frame that takes the passed total over the limit.
    fn overflow(passed: usize, limit: usize) -> Frame<Bytes> {
        Frame::data(Bytes::from(vec![0u8; limit - passed + 1]))
    }
}

impl<B> HttpBody for Draining<B>
where
    B: HttpBody<Data = Bytes>,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let mut this = self.project();
        loop {
            match ready!(this.inner.as_mut().poll_frame(cx)) {
                None if *this.over => return Poll::Ready(Some(Ok(Self::overflow(*this.passed, *this.limit)))),
                None => return Poll::Ready(None),
                Some(Err(e)) => return Poll::Ready(Some(Err(e.into()))),
                Some(Ok(frame)) => {
                    let len = frame.data_ref().map_or(0, |d| d.len());
                    *this.seen = this.seen.saturating_add(len);
                    if *this.seen > *this.cap {
                        // Too much to drain: stop reading (the connection will be dropped).
                        return Poll::Ready(Some(Ok(Self::overflow(*this.passed, *this.limit))));
                    }
                    if *this.seen > *this.limit {
                        // Over the limit: keep reading and dropping until the body ends.
                        *this.over = true;
                        continue;
                    }
                    *this.passed += len;
                    return Poll::Ready(Some(Ok(frame)));
                }
            }
        }
    }
}

pub async fn limit(State(limits): State<Limits>, request: Request, next: Next) -> Response {
    let max = limits.for_path(request.uri().path());
    let (parts, body) = request.into_parts();
    let body = Body::new(Limited::new(Draining::new(body, max), max));
    next.run(Request::from_parts(parts, body)).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn chunks(n: usize, size: usize) -> Body {
        let stream = futures::stream::iter((0..n).map(move |_| Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; size]))));
        Body::from_stream(stream)
    }

    fn limited(body: Body, max: usize) -> Limited<Draining<Body>> {
        Limited::new(Draining::new(body, max), max)
    }

    #[tokio::test]
    async fn under_the_limit_everything_passes() {
        let got = limited(chunks(4, 10), 40).collect().await.unwrap().to_bytes();
        assert_eq!(got.len(), 40);
    }

    #[tokio::test]
    async fn over_the_limit_the_rest_is_read_then_refused() {
        let polled = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = polled.clone();
        let stream = futures::stream::iter((0..100).map(move |_| {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 10]))
        }));
        let err = limited(Body::from_stream(stream), 35).collect().await.unwrap_err();
        assert!(err.downcast_ref::<http_body_util::LengthLimitError>().is_some(), "{err}");
        assert_eq!(polled.load(std::sync::atomic::Ordering::SeqCst), 100, "the whole body was drained");
    }

    #[test]
    fn uploads_get_their_own_limit() {
        let l = Limits { uploads: 10 << 20, other: 2 << 20 };
        assert_eq!(l.for_path("/l/abc/do/attach"), 10 << 20);
        assert_eq!(l.for_path("/l/abc/do/step/details"), 2 << 20);
        assert_eq!(l.for_path("/fhir/$process-message"), 2 << 20);
        assert!(drain_cap(10 << 20) >= 64 << 20);
    }
}
