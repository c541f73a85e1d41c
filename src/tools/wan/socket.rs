//! The validators' QUIC over a simulated link: quinn's [`AsyncUdpSocket`] on a turmoil UDP
//! socket, with datagram loss drawn from the run's seed and every datagram counted.

use std::fmt;
use std::io::{self, IoSliceMut};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use quinn::udp::{RecvMeta, Transmit};
use quinn::{AsyncUdpSocket, UdpPoller};
use tokio::sync::mpsc;

use crate::tools::seeded::SeededRng;

/// Largest datagram read off the simulated wire (quinn sends at most its MTU, 1,200-1,500).
const MAX_DATAGRAM: usize = 65_536;

/// What one host put on the wire and took off it.
#[derive(Debug, Default)]
pub struct WireCounters {
    pub datagrams_sent: AtomicU64,
    pub bytes_sent: AtomicU64,
    pub datagrams_lost: AtomicU64,
    pub datagrams_received: AtomicU64,
}

impl WireCounters {
    pub fn snapshot(&self) -> WireSnapshot {
        WireSnapshot {
            datagrams_sent: self.datagrams_sent.load(Ordering::Relaxed),
            bytes_sent: self.bytes_sent.load(Ordering::Relaxed),
            datagrams_lost: self.datagrams_lost.load(Ordering::Relaxed),
            datagrams_received: self.datagrams_received.load(Ordering::Relaxed),
        }
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WireSnapshot {
    pub datagrams_sent: u64,
    pub bytes_sent: u64,
    pub datagrams_lost: u64,
    pub datagrams_received: u64,
}

impl WireSnapshot {
    pub fn since(&self, earlier: &WireSnapshot) -> WireSnapshot {
        WireSnapshot {
            datagrams_sent: self.datagrams_sent - earlier.datagrams_sent,
            bytes_sent: self.bytes_sent - earlier.bytes_sent,
            datagrams_lost: self.datagrams_lost - earlier.datagrams_lost,
            datagrams_received: self.datagrams_received - earlier.datagrams_received,
        }
    }
}

/// A turmoil UDP socket as quinn sees one. Datagrams are read by a task of the host into a
/// queue that `poll_recv` drains (turmoil's socket only offers `async` reads); sends go out at
/// once. Each sent datagram is lost with probability `loss`, drawn from the host's own stream
/// of the seed, so a run replays.
pub struct SimulatedUdp {
    socket: Arc<turmoil::net::UdpSocket>,
    local: SocketAddr,
    incoming: Mutex<mpsc::UnboundedReceiver<(Vec<u8>, SocketAddr)>>,
    /// Loss probability in parts per million.
    loss_ppm: u64,
    draws: Mutex<SeededRng>,
    counters: Arc<WireCounters>,
}

impl fmt::Debug for SimulatedUdp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimulatedUdp").field("local", &self.local).field("loss_ppm", &self.loss_ppm).finish()
    }
}

impl SimulatedUdp {
    /// Wraps a bound socket and starts its reader on the current (simulated) host.
    pub fn start(socket: turmoil::net::UdpSocket, loss: f64, seed: u64, counters: Arc<WireCounters>) -> io::Result<Arc<Self>> {
        let local = socket.local_addr()?;
        let socket = Arc::new(socket);
        let (queue, incoming) = mpsc::unbounded_channel();
        let reader = socket.clone();
        let received = counters.clone();
        tokio::spawn(async move {
            let mut buffer = vec![0u8; MAX_DATAGRAM];
            while let Ok((len, from)) = reader.recv_from(&mut buffer).await {
                received.datagrams_received.fetch_add(1, Ordering::Relaxed);
                if queue.send((buffer[..len].to_vec(), from)).is_err() {
                    return;
                }
            }
        });
        Ok(Arc::new(Self {
            socket,
            local,
            incoming: Mutex::new(incoming),
            loss_ppm: (loss.clamp(0.0, 1.0) * 1e6) as u64,
            draws: Mutex::new(SeededRng::new(seed)),
            counters,
        }))
    }

    fn lost(&self) -> bool {
        self.loss_ppm > 0 && self.draws.lock().map(|mut rng| rng.below(1_000_000) < self.loss_ppm).unwrap_or(false)
    }
}

/// Turmoil's UDP has no back-pressure: always writable.
#[derive(Debug)]
struct AlwaysWritable;

impl UdpPoller for AlwaysWritable {
    fn poll_writable(self: Pin<&mut Self>, _cx: &mut Context) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncUdpSocket for SimulatedUdp {
    fn create_io_poller(self: Arc<Self>) -> Pin<Box<dyn UdpPoller>> {
        Box::pin(AlwaysWritable)
    }

    fn try_send(&self, transmit: &Transmit) -> io::Result<()> {
        // One datagram per transmit: `max_transmit_segments` is 1, so quinn never batches.
        self.counters.datagrams_sent.fetch_add(1, Ordering::Relaxed);
        self.counters.bytes_sent.fetch_add(transmit.contents.len() as u64, Ordering::Relaxed);
        if self.lost() {
            self.counters.datagrams_lost.fetch_add(1, Ordering::Relaxed);
            return Ok(());
        }
        self.socket.try_send_to(transmit.contents, transmit.destination).map(|_| ())
    }

    fn poll_recv(&self, cx: &mut Context, bufs: &mut [IoSliceMut<'_>], meta: &mut [RecvMeta]) -> Poll<io::Result<usize>> {
        let Ok(mut incoming) = self.incoming.lock() else {
            return Poll::Ready(Err(io::Error::other("the simulated socket's queue is poisoned")));
        };
        let mut filled = 0;
        while filled < bufs.len().min(meta.len()) {
            let next = if filled == 0 {
                match incoming.poll_recv(cx) {
                    Poll::Ready(Some(datagram)) => datagram,
                    Poll::Ready(None) => return Poll::Ready(Err(io::Error::new(io::ErrorKind::BrokenPipe, "the simulated socket closed"))),
                    Poll::Pending => return Poll::Pending,
                }
            } else {
                match incoming.try_recv() {
                    Ok(datagram) => datagram,
                    Err(_) => break,
                }
            };
            let (data, from) = next;
            let len = data.len().min(bufs[filled].len());
            bufs[filled][..len].copy_from_slice(&data[..len]);
            meta[filled] = RecvMeta { addr: from, len, stride: len, ..Default::default() };
            filled += 1;
        }
        Poll::Ready(Ok(filled))
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }

    fn may_fragment(&self) -> bool {
        false
    }
}
