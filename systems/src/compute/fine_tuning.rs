//! The rules of a fine-tuning task that need no I/O: what each of the user's signatures covers
//! (the messages 0G's SDK signs with `personal_sign`), the fee, and the settlement's
//! arithmetic.

use alloy_primitives::{Address, B256, U256, keccak256};
use alloy_sol_types::SolValue;

/// What `createTask` signs: `keccak256(abi.encodePacked(user, nonce, datasetHash))`.
pub fn task_request_digest(user: Address, nonce: U256, dataset_hash: &str) -> B256 {
    keccak256((user, nonce, dataset_hash.to_string()).abi_encode_packed())
}

/// A task id's bytes as the SDK signs them: the UUID's hex without its dashes. None when the id
/// is not hex (no task of ours has such an id).
pub fn task_id_bytes(task_id: &str) -> Option<Vec<u8>> {
    alloy_primitives::hex::decode(task_id.replace('-', "")).ok().filter(|bytes| !bytes.is_empty())
}

/// What `cancelTask` signs: `keccak256(taskIdBytes)`.
pub fn cancel_digest(task_id: &str) -> Option<B256> {
    task_id_bytes(task_id).map(keccak256)
}

/// What `uploadDatasetToTEE` signs: `keccak256(utf8(userAddress ++ timestamp))`, the address as
/// the SDK wrote it in the URL.
pub fn dataset_upload_digest(user_text: &str, timestamp: u64) -> B256 {
    keccak256(format!("{user_text}{timestamp}").as_bytes())
}

/// What the LoRA download signs: `keccak256(utf8(taskIdHex ++ timestamp))`.
pub fn lora_download_digest(task_id: &str, timestamp: u64) -> B256 {
    keccak256(format!("{}{timestamp}", task_id.replace('-', "")).as_bytes())
}

/// Signed timestamps older or newer than this are refused (the SDK re-signs each attempt).
pub const SIGNATURE_WINDOW_SECS: u64 = 300;

/// Whether a signed `timestamp` is fresh at `now` (both Unix seconds).
pub fn timestamp_is_fresh(timestamp: u64, now: u64) -> bool {
    timestamp.abs_diff(now) <= SIGNATURE_WINDOW_SECS
}

/// A task's fee: every token of the dataset, once per epoch, at the service's price. None when it
/// would not fit in 256 bits.
pub fn task_fee(dataset_tokens: u64, epochs: u32, price_per_token: U256) -> Option<U256> {
    U256::from(dataset_tokens).checked_mul(U256::from(epochs))?.checked_mul(price_per_token)
}

/// What a settlement of a deliverable pays: the whole fee once acknowledged, `penalty_percent`
/// of it when the user never acknowledged within the lock time (the contract's rule, so the
/// provider can say in advance what it will be paid).
pub fn settled_fee(fee: U256, acknowledged: bool, penalty_percent: U256) -> U256 {
    if acknowledged { fee } else { fee.saturating_mul(penalty_percent) / U256::from(100) }
}

/// Whether `id` is a task id this provider would make: a lowercase UUID (36 characters of hex
/// and dashes), so it can be a path component and a deliverable id.
pub fn is_task_id(id: &str) -> bool {
    id.len() == 36
        && id.char_indices().all(|(at, c)| if matches!(at, 8 | 13 | 18 | 23) { c == '-' } else { c.is_ascii_digit() || ('a'..='f').contains(&c) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::{address, b256};

    #[test]
    fn the_signed_messages_are_the_sdks() {
        // ethers.solidityPackedKeccak256(['address','uint256','string'], [user, 17, '0xab']).
        let user = address!("f39Fd6e51aad88F6F4ce6aB8827279cffFb92266");
        let mut packed = user.to_vec();
        packed.extend_from_slice(&U256::from(17).to_be_bytes::<32>());
        packed.extend_from_slice(b"0xab");
        assert_eq!(task_request_digest(user, U256::from(17), "0xab"), keccak256(&packed));
        let id = "0123abcd-0000-4000-8000-00000000beef";
        assert_eq!(cancel_digest(id), Some(keccak256(alloy_primitives::hex::decode("0123abcd000040008000" .to_string() + "00000000beef").unwrap())));
        assert_eq!(cancel_digest("../etc"), None);
        assert_eq!(lora_download_digest(id, 5), keccak256(b"0123abcd00004000800000000000beef5"));
        assert_eq!(dataset_upload_digest("0xAbC", 12), keccak256(b"0xAbC12"));
        assert_ne!(b256!("0000000000000000000000000000000000000000000000000000000000000000"), dataset_upload_digest("", 0));
    }

    #[test]
    fn fees_and_settlements() {
        assert_eq!(task_fee(1_000, 3, U256::from(7)), Some(U256::from(21_000)));
        assert_eq!(task_fee(u64::MAX, u32::MAX, U256::MAX), None);
        assert_eq!(settled_fee(U256::from(1000), true, U256::from(30)), U256::from(1000));
        assert_eq!(settled_fee(U256::from(1000), false, U256::from(30)), U256::from(300));
    }

    #[test]
    fn only_uuids_are_task_ids() {
        assert!(is_task_id("0123abcd-0000-4000-8000-00000000beef"));
        for bad in ["", "../../etc/passwd", "0123ABCD-0000-4000-8000-00000000beef", "0123abcd/0000-4000-8000-00000000beef", "0123abcd-0000-4000-8000-00000000beef0"] {
            assert!(!is_task_id(bad), "{bad}");
        }
        assert!(timestamp_is_fresh(1000, 1200) && !timestamp_is_fresh(1000, 1301));
    }
}
