//! Getting a blob back, and sampling it: rows (then columns, when rows are missing) from this
//! node and the members that keep them, each checked against its root, rebuilt into the square
//! when enough are there; samples are single shares proven against the data root.

use alloy_primitives::B256;
use std::collections::BTreeMap;
use std::time::Duration;

use zg_components::consensus::PeerKey;
use zg_components::da::piece::{DaAnswer, DaRequest, axis_code};
use zg_components::da::square::axis_root_of_shares;
use zg_components::da::{Axis, AxisRoots, ShareProof, SquareLayout, SHARE_SIZE};
use zg_systems::da::pieces::check_roots;
use zg_systems::da::sampling;

use super::DaNode;

const ASK_TIMEOUT: Duration = Duration::from_secs(10);
/// Shares one da_sample call checks at once, and keepers asked for each.
const SAMPLES_AT_ONCE: usize = 8;
const SAMPLE_KEEPERS_ASKED: usize = 3;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RetrieveError {
    #[error("no DA node this node can reach keeps blob {0}")]
    Unknown(B256),
    #[error("only {have} of the {need} rows (or an equivalent set of columns) could be fetched; the blob cannot be rebuilt")]
    Unrecoverable { have: usize, need: usize },
    #[error("rebuilding the blob: {0}")]
    Rebuild(String),
}

/// What a sampler found.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SampleReport {
    pub data_root: B256,
    pub k: usize,
    pub samples: usize,
    pub verified: usize,
    pub failed: usize,
    /// The probability that an unrecoverable blob would have failed at least one of the verified
    /// samples (1 - (1 - (k+1)²/4k²)^verified); 0 when any sample failed.
    pub confidence: f64,
    pub available: bool,
}

impl DaNode {
    /// Members that keep each axis of the blob, by the current signers' assignment (others may
    /// hold it too; this is who to ask first).
    pub(super) fn keepers(&self, data_root: &B256, layout: SquareLayout) -> BTreeMap<(Axis, usize), Vec<PeerKey>> {
        let mut keepers: BTreeMap<(Axis, usize), Vec<PeerKey>> = BTreeMap::new();
        for (member, axes) in self.assignments.of(data_root, &self.signers(), self.tokens_per_vote, layout).iter() {
            if *member == self.own {
                continue;
            }
            for axis in axes {
                keepers.entry(*axis).or_default().push(*member);
            }
        }
        keepers
    }

    /// The blob's axis roots, from this node or any member, checked against the data root.
    pub(super) async fn axis_roots(&self, data_root: &B256) -> Option<AxisRoots> {
        if let Ok(Some((k, roots))) = self.store.da_roots(&data_root.0) {
            return check_roots(data_root, k, &roots).ok();
        }
        let network = self.network.as_ref()?;
        for (member, _) in self.signers().into_iter().filter(|(m, _)| *m != self.own) {
            if let Ok(DaAnswer::Roots(Some((k, roots)))) = network.ask_da(member, DaRequest::Roots { data_root: data_root.0 }, ASK_TIMEOUT).await
                && let Ok(checked) = check_roots(data_root, k, &roots)
            {
                return Some(checked);
            }
        }
        None
    }

    /// One whole axis, from this node or a keeper, checked against its root.
    pub(super) async fn fetch_axis(&self, roots: &AxisRoots, keepers: &[PeerKey], axis: Axis, index: usize) -> Option<Vec<u8>> {
        let data_root = roots.data_root().0;
        let expected = roots.root_of(axis, index)?;
        let fits = |whole: &[u8]| {
            whole.len() == roots.layout.width() * SHARE_SIZE && axis_root_of_shares(whole) == expected
        };
        if let Ok(Some(whole)) = self.store.da_axis(&data_root, axis, index as u32)
            && fits(&whole)
        {
            return Some(whole);
        }
        let network = self.network.as_ref()?;
        for member in keepers {
            let request = DaRequest::Axis { data_root, axis: axis_code(axis), index: index as u32 };
            if let Ok(DaAnswer::Axis(Some(whole))) = network.ask_da(*member, request, ASK_TIMEOUT).await
                && fits(&whole)
            {
                return Some(whole);
            }
        }
        None
    }

    /// The blob under `data_root`, rebuilt from any recoverable set of rows and columns.
    pub async fn retrieve(&self, data_root: &B256) -> Result<Vec<u8>, RetrieveError> {
        let roots = self.axis_roots(data_root).await.ok_or(RetrieveError::Unknown(*data_root))?;
        let layout = roots.layout;
        let (k, width) = (layout.k, layout.width());
        let keepers = self.keepers(data_root, layout);
        let none = Vec::new();
        let mut held: Vec<Option<Vec<u8>>> = vec![None; width * width];
        let mut rows = 0;
        // The top k rows hold the blob itself: when they all come, nothing needs decoding.
        for (axis, range) in [(Axis::Row, 0..k), (Axis::Row, k..width), (Axis::Column, 0..width)] {
            let fetches = range.clone().map(|index| {
                let keepers = keepers.get(&(axis, index)).unwrap_or(&none);
                let roots = &roots;
                async move { (index, self.fetch_axis(roots, keepers, axis, index).await) }
            });
            for (index, whole) in futures::future::join_all(fetches).await {
                let Some(whole) = whole else { continue };
                for (position, share) in whole.chunks(SHARE_SIZE).enumerate() {
                    let at = if axis == Axis::Row { index * width + position } else { position * width + index };
                    held[at] = Some(share.to_vec());
                }
                if axis == Axis::Row {
                    rows += 1;
                }
            }
            if axis == Axis::Row && range.start == 0 && rows == k {
                let original: Vec<u8> = (0..k).flat_map(|r| held[r * width..r * width + k].iter().flatten().flatten().copied()).collect();
                return zg_components::da::square::blob_from_original(layout, &original).map_err(|e| RetrieveError::Rebuild(e.to_string()));
            }
            if axis == Axis::Row && range.start == k && rows >= k {
                break;
            }
        }
        let have = held.iter().filter(|s| s.is_some()).count();
        let root = *data_root;
        let accelerator = self.accelerator.clone();
        tokio::task::spawn_blocking(move || {
            let square = zg_systems::da::encoding::rebuild_square_on(&accelerator, layout, &held)
                .map_err(|_| RetrieveError::Unrecoverable { have: have / width, need: k })?;
            if square.commit().data_root() != root {
                return Err(RetrieveError::Rebuild("the rebuilt square does not commit to the data root".into()));
            }
            zg_systems::da::encoding::blob_of(&square).map_err(|e| RetrieveError::Rebuild(e.to_string()))
        })
        .await
        .map_err(|e| RetrieveError::Rebuild(e.to_string()))?
    }

    /// Draws `samples` uniform shares of the blob and checks each one's proof against the data
    /// root; a share that cannot be had counts as a failure.
    pub async fn sample(&self, data_root: &B256, samples: usize) -> Result<SampleReport, RetrieveError> {
        let roots = self.axis_roots(data_root).await.ok_or(RetrieveError::Unknown(*data_root))?;
        let layout = roots.layout;
        let keepers = self.keepers(data_root, layout);
        let seed = B256::random();
        let draws = sampling::draw(seed, layout, samples);
        // Bounded fan-out: a few shares asked at once, a few keepers each (a caller could
        // otherwise turn one call into ~1,000 peer requests).
        let checks = draws.into_iter().map(|(row, column)| {
            let mut ask = share_keepers(&keepers, row, column);
            ask.truncate(SAMPLE_KEEPERS_ASKED);
            async move { self.fetch_share(data_root, layout, row, column, &ask).await.is_some() }
        });
        use futures::StreamExt;
        let verified = futures::stream::iter(checks).buffer_unordered(SAMPLES_AT_ONCE).filter(|ok| std::future::ready(*ok)).count().await;
        let failed = samples - verified;
        let confidence = if failed == 0 { sampling::confidence(layout, verified) } else { 0.0 };
        Ok(SampleReport { data_root: *data_root, k: layout.k, samples, verified, failed, confidence, available: failed == 0 })
    }

    /// Share (row, column) with its proof, from this node or a keeper, checked against the data
    /// root.
    pub(super) async fn fetch_share(
        &self,
        data_root: &B256,
        layout: SquareLayout,
        row: usize,
        column: usize,
        keepers: &[PeerKey],
    ) -> Option<(Vec<u8>, ShareProof)> {
        let check = |answer: Option<(Vec<u8>, zg_components::da::piece::WireShareProof)>| {
            let (share, proof) = answer?;
            let proof = proof.to_proof()?;
            (proof.coordinates() == (row, column) && proof.verify(data_root, layout, &share).is_ok()).then_some((share, proof))
        };
        if let Some(found) = check(self.proven_share(&data_root.0, row as u32, column as u32)) {
            return Some(found);
        }
        let network = self.network.as_ref()?;
        for member in keepers {
            let request = DaRequest::Share { data_root: data_root.0, row: row as u32, column: column as u32 };
            if let Ok(DaAnswer::Share(answer)) = network.ask_da(*member, request, ASK_TIMEOUT).await
                && let Some(found) = check(answer)
            {
                return Some(found);
            }
        }
        None
    }
}

/// Who to ask for share (row, column) among a blob's `keepers`: those of its row, then of its
/// column.
pub(super) fn share_keepers(keepers: &BTreeMap<(Axis, usize), Vec<PeerKey>>, row: usize, column: usize) -> Vec<PeerKey> {
    let mut ask: Vec<PeerKey> = keepers.get(&(Axis::Row, row)).cloned().unwrap_or_default();
    ask.extend(keepers.get(&(Axis::Column, column)).cloned().unwrap_or_default());
    ask
}
