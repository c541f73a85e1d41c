//! A peer's address as configs and the network write it: `<64 hex key>@<ip:port>`. A leaf: the
//! config reads it and the network dials it, without either importing the other.

use std::net::SocketAddr;

use zg_components::consensus::PeerKey;

#[derive(Debug, thiserror::Error)]
#[error("bad peer address {0:?}: expected <64 hex key>@<ip:port>")]
pub struct PeerAddressError(pub String);

/// A peer to dial: its key and where it listens.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerAddress {
    pub key: PeerKey,
    pub addr: SocketAddr,
}

impl std::str::FromStr for PeerAddress {
    type Err = PeerAddressError;

    fn from_str(text: &str) -> Result<Self, PeerAddressError> {
        let bad = || PeerAddressError(text.to_string());
        let (key, addr) = text.split_once('@').ok_or_else(bad)?;
        let key: PeerKey = hex::decode(key.trim_start_matches("0x")).ok().and_then(|k| k.try_into().ok()).ok_or_else(bad)?;
        let addr = addr.parse().map_err(|_| bad())?;
        Ok(Self { key, addr })
    }
}

impl std::fmt::Display for PeerAddress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}@{}", hex::encode(self.key), self.addr)
    }
}
