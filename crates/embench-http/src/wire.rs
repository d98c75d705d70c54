//! Counting what the client puts on the wire: a connector placed after ureq's own
//! (TCP, then TLS for https) that counts the connections it opens and wraps each in
//! a transport counting the HTTP bytes (headers and bodies, before TLS) both ways;
//! and a resolver that looks a host up once.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::{Buffers, ConnectionDetails, Connector, NextTimeout, Transport};

/// Resolves each host once and keeps the answer. ureq resolves before every request,
/// pooled connection or not, and with a timeout set does it on a new thread each time:
/// about 100 µs of the client's CPU per request on loopback, which a load generator
/// must not spend (oha resolves once per connection).
#[derive(Debug, Default)]
pub struct CachedResolver {
    inner: DefaultResolver,
    known: Mutex<HashMap<String, ResolvedSocketAddrs>>,
}

impl Resolver for CachedResolver {
    fn resolve(&self, uri: &Uri, config: &Config, timeout: NextTimeout) -> Result<ResolvedSocketAddrs, ureq::Error> {
        let key = format!("{}://{}", uri.scheme_str().unwrap_or(""), uri.authority().map_or("", |a| a.as_str()));
        if let Some(addrs) = self.known.lock().expect("resolver cache").get(&key) {
            return Ok(addrs.clone());
        }
        let addrs = self.inner.resolve(uri, config, timeout)?;
        self.known.lock().expect("resolver cache").insert(key, addrs.clone());
        Ok(addrs)
    }
}

/// Cumulative counters of one client.
#[derive(Debug, Default)]
pub struct WireCounters {
    /// TCP connections opened.
    pub connections: AtomicU64,
    /// HTTP bytes written (request lines, headers, bodies).
    pub sent: AtomicU64,
    /// HTTP bytes read (status lines, headers, bodies).
    pub received: AtomicU64,
}

/// Counts each connection ureq's connectors made, and wraps it in a [`Counted`] transport.
#[derive(Debug)]
pub struct CountingConnector(pub Arc<WireCounters>);

impl Connector<Box<dyn Transport>> for CountingConnector {
    type Out = Box<dyn Transport>;

    fn connect(
        &self,
        _details: &ConnectionDetails,
        chained: Option<Box<dyn Transport>>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        Ok(chained.map(|inner| {
            self.0.connections.fetch_add(1, Ordering::Relaxed);
            Box::new(Counted { inner, counters: self.0.clone() }) as Box<dyn Transport>
        }))
    }
}

/// A transport that counts the bytes passing through it.
#[derive(Debug)]
struct Counted {
    inner: Box<dyn Transport>,
    counters: Arc<WireCounters>,
}

impl Transport for Counted {
    fn buffers(&mut self) -> &mut dyn Buffers {
        self.inner.buffers()
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.counters.sent.fetch_add(amount as u64, Ordering::Relaxed);
        self.inner.transmit_output(amount, timeout)
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        // Input is consumed between calls, never during one: what is added now was read now.
        let before = self.inner.buffers().input().len();
        let more = self.inner.await_input(timeout)?;
        let after = self.inner.buffers().input().len();
        self.counters.received.fetch_add(after.saturating_sub(before) as u64, Ordering::Relaxed);
        Ok(more)
    }

    fn is_open(&mut self) -> bool {
        self.inner.is_open()
    }

    fn is_tls(&self) -> bool {
        self.inner.is_tls()
    }
}
