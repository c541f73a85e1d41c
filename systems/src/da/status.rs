//! A blob's status, in one place: what the chain's events made of it (its [`DaBlob`] record)
//! and, for a blob this node disperses, where its own dispersal stands ([`DispersalPhase`]).
//! The chain's word wins, except where this node knows better: a registered blob still
//! PROCESSING on chain whose dispersal here gave up is reported as what stopped it.

use alloy_primitives::B256;

use zg_components::da::{BlobReport, BlobStatus, DaBlob, DispersalPhase};

/// The chain's record of a blob as of the durable head `head`: what a block not yet on disk
/// registered or confirmed is not reported (a crash could lose that block, and the node would
/// then say something else: the same rule as a block's own visibility on JSON-RPC).
pub fn as_of(blob: DaBlob, head: u64) -> Option<DaBlob> {
    if blob.uploaded_at > head {
        return None;
    }
    if blob.confirmed_at.is_some_and(|at| at > head) {
        return Some(DaBlob { confirmed_at: None, status: BlobStatus::Processing, ..blob });
    }
    Some(blob)
}

pub fn blob_report(data_root: B256, chain: Option<&DaBlob>, local: Option<&DispersalPhase>) -> Option<BlobReport> {
    let (status, detail) = match (chain.map(|blob| blob.status), local) {
        (Some(BlobStatus::Processing) | None, Some(DispersalPhase::Failed { detail })) => (BlobStatus::Failed, Some(detail.clone())),
        (Some(BlobStatus::Processing) | None, Some(DispersalPhase::Insufficient { detail })) => {
            (BlobStatus::InsufficientSignatures, Some(detail.clone()))
        }
        (Some(status), _) => (status, None),
        (None, Some(DispersalPhase::Submitted)) => (BlobStatus::Processing, None),
        (None, Some(DispersalPhase::Registering)) => (BlobStatus::Processing, Some("registering".to_string())),
        (None, Some(DispersalPhase::Dispersing)) => (BlobStatus::Processing, Some("dispersing".to_string())),
        (None, Some(DispersalPhase::Resuming)) => (BlobStatus::Processing, Some("resuming after a restart".to_string())),
        (None, None) => return None,
    };
    Some(BlobReport {
        data_root,
        status,
        epoch: chain.map_or(0, |blob| blob.epoch),
        quorum: chain.map_or(0, |blob| blob.quorum),
        uploaded_at: chain.map(|blob| blob.uploaded_at),
        confirmed_at: chain.and_then(|blob| blob.confirmed_at),
        detail,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on_chain(status: BlobStatus) -> DaBlob {
        DaBlob { data_root: B256::ZERO, submitter: [0; 20], epoch: 4, quorum: 0, uploaded_at: 9, confirmed_at: Some(11), status }
    }

    #[test]
    fn nothing_from_a_block_not_yet_on_disk_is_reported() {
        let confirmed = on_chain(BlobStatus::Confirmed);
        assert_eq!(as_of(confirmed.clone(), 11), Some(confirmed.clone()), "confirmed in block 11, which is on disk");
        let unconfirmed = as_of(confirmed.clone(), 10).unwrap();
        assert_eq!((unconfirmed.status, unconfirmed.confirmed_at, unconfirmed.uploaded_at), (BlobStatus::Processing, None, 9));
        assert_eq!(as_of(confirmed, 8), None, "registered in block 9, not on disk yet");
    }

    #[test]
    fn the_chain_wins_unless_this_node_gave_up_on_a_blob_still_processing() {
        let failed = DispersalPhase::Failed { detail: "registering the blob on chain: reverted".into() };
        let report = blob_report(B256::ZERO, Some(&on_chain(BlobStatus::Processing)), Some(&failed)).unwrap();
        assert_eq!((report.status, report.epoch, report.detail.as_deref()), (BlobStatus::Failed, 4, Some("registering the blob on chain: reverted")));
        let report = blob_report(B256::ZERO, Some(&on_chain(BlobStatus::Confirmed)), Some(&failed)).unwrap();
        assert_eq!((report.status, report.uploaded_at, report.confirmed_at, report.detail), (BlobStatus::Confirmed, Some(9), Some(11), None));
        let short = DispersalPhase::Insufficient { detail: "2 of 3 slots".into() };
        assert_eq!(blob_report(B256::ZERO, None, Some(&short)).unwrap().status, BlobStatus::InsufficientSignatures);
        let report = blob_report(B256::ZERO, None, Some(&DispersalPhase::Dispersing)).unwrap();
        assert_eq!((report.status, report.detail.as_deref(), report.uploaded_at), (BlobStatus::Processing, Some("dispersing"), None));
        assert_eq!(blob_report(B256::ZERO, None, None), None, "unknown to the chain and to this node");
    }
}
