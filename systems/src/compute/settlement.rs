//! What a provider charges and how it settles: a request's fee from its metered tokens, and the
//! batches `settleFeesWithTEE` takes — one settlement per user, covering that user's unsettled
//! requests in the order served, with the next nonce above the one settled on chain.

use alloy_primitives::{Address, B256, U256, keccak256};

use super::contracts::{TEESettlementData, settlement_digest};

/// At most this many settlements in one transaction (the contract's limit).
pub const MAX_SETTLEMENTS_PER_TX: usize = 50;

/// A served request waiting to be paid for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServedRequest {
    /// The provider's own sequence number: the order requests were served in.
    pub seq: u64,
    pub user: Address,
    /// The id the user got in `ZG-Res-Key`.
    pub chat_id: String,
    pub fee: U256,
}

/// `input_tokens × inputPrice + output_tokens × outputPrice`; `None` if it overflows 256 bits.
pub fn request_fee(input_tokens: u64, output_tokens: u64, input_price: U256, output_price: U256) -> Option<U256> {
    U256::from(input_tokens).checked_mul(input_price)?.checked_add(U256::from(output_tokens).checked_mul(output_price)?)
}

/// A price tier (0G's `tieredPricing`): requests with at most `max_input_tokens` prompt tokens
/// (0: no bound) pay the prices times these fractions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PriceTier {
    pub max_input_tokens: u64,
    /// (numerator, denominator) of the input price's multiplier.
    pub input: (u64, u64),
    pub output: (u64, u64),
}

/// The tier a request with `input_tokens` falls in: the first (tiers ascend) whose bound holds.
pub fn tier_of(tiers: &[PriceTier], input_tokens: u64) -> Option<&PriceTier> {
    tiers.iter().find(|tier| tier.max_input_tokens == 0 || input_tokens <= tier.max_input_tokens)
}

/// [`request_fee`] at the request's tier (none: the prices as they are); each part rounded down.
/// `None` on overflow or a zero denominator.
pub fn tiered_fee(input_tokens: u64, output_tokens: u64, input_price: U256, output_price: U256, tiers: &[PriceTier]) -> Option<U256> {
    match tier_of(tiers, input_tokens) {
        Some(tier) => fee_at_tier(input_tokens, output_tokens, input_price, output_price, tier),
        None => request_fee(input_tokens, output_tokens, input_price, output_price),
    }
}

/// What a request pays at `tier`'s multipliers, whatever its bound; each part rounded down.
pub fn fee_at_tier(input_tokens: u64, output_tokens: u64, input_price: U256, output_price: U256, tier: &PriceTier) -> Option<U256> {
    let part = |tokens: u64, price: U256, (numerator, denominator): (u64, u64)| -> Option<U256> {
        U256::from(tokens).checked_mul(price)?.checked_mul(U256::from(numerator))?.checked_div(U256::from(denominator))
    };
    part(input_tokens, input_price, tier.input)?.checked_add(part(output_tokens, output_price, tier.output)?)
}

/// One user's settlement: the requests it pays for, their total, their hash and its nonce.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PlannedSettlement {
    pub user: Address,
    pub nonce: U256,
    pub total_fee: U256,
    pub requests_hash: B256,
    pub seqs: Vec<u64>,
}

impl PlannedSettlement {
    /// The digest the provider's signer signs for this settlement.
    pub fn digest(&self, provider: Address) -> B256 {
        settlement_digest(self.requests_hash, self.nonce, provider, self.user, self.total_fee)
    }

    pub fn to_call_data(&self, provider: Address, signature: alloy_primitives::Bytes) -> TEESettlementData {
        TEESettlementData {
            user: self.user,
            provider,
            totalFee: self.total_fee,
            requestsHash: self.requests_hash,
            nonce: self.nonce,
            signature,
        }
    }
}

/// The hash a settlement commits to: keccak over the requests' chat ids, in the order served,
/// each hashed on its own (so no id can run into the next).
pub fn requests_hash<'a>(chat_ids: impl IntoIterator<Item = &'a str>) -> B256 {
    let mut all = Vec::new();
    for id in chat_ids {
        all.extend_from_slice(keccak256(id.as_bytes()).as_slice());
    }
    keccak256(&all)
}

/// Settlements for `unsettled` (any order): one per user, requests in `seq` order, users in the
/// order of their first request, chunked into transactions of at most
/// [`MAX_SETTLEMENTS_PER_TX`]. `settled_nonce(user)` is the nonce the contract last settled for
/// that user; each settlement takes the next one. A total that would overflow is split: the
/// requests past it wait for the next round.
pub fn plan(unsettled: &[ServedRequest], settled_nonce: impl Fn(Address) -> U256) -> Vec<Vec<PlannedSettlement>> {
    let mut requests: Vec<&ServedRequest> = unsettled.iter().collect();
    requests.sort_by_key(|r| r.seq);
    let mut users: Vec<Address> = Vec::new();
    let mut by_user: std::collections::HashMap<Address, Vec<&ServedRequest>> = std::collections::HashMap::new();
    for request in requests {
        let entry = by_user.entry(request.user).or_default();
        if entry.is_empty() {
            users.push(request.user);
        }
        entry.push(request);
    }
    let settlements: Vec<PlannedSettlement> = users
        .into_iter()
        .filter_map(|user| {
            let mut total = U256::ZERO;
            let mut taken = Vec::new();
            for request in by_user.get(&user)? {
                let Some(next) = total.checked_add(request.fee) else { break };
                total = next;
                taken.push(*request);
            }
            (!taken.is_empty()).then(|| PlannedSettlement {
                user,
                nonce: settled_nonce(user).saturating_add(U256::from(1)),
                total_fee: total,
                requests_hash: requests_hash(taken.iter().map(|r| r.chat_id.as_str())),
                seqs: taken.iter().map(|r| r.seq).collect(),
            })
        })
        .collect();
    settlements.chunks(MAX_SETTLEMENTS_PER_TX).map(<[PlannedSettlement]>::to_vec).collect()
}

/// What a provider does with a signed settlement after the chain previewed it (the status
/// `previewSettlementResults` answers per settlement).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SettlementVerdict {
    /// The chain takes it (all or part of the fee): send it.
    Send,
    /// Signed against a nonce or signer the chain no longer has: plan it again.
    Replan,
    /// The user's sub-account is gone: no one can pay it, write its requests off.
    WriteOff,
    /// Waiting on an acknowledgement (of the signer, by the user) or another provider's
    /// matter: keep it and ask again next round.
    Wait,
}

/// The verdict for a previewed settlement's status.
pub fn verdict(status: u8) -> SettlementVerdict {
    use crate::compute::contracts::settlement_status as status_code;
    match status {
        status_code::SUCCESS | status_code::PARTIAL => SettlementVerdict::Send,
        status_code::INVALID_NONCE | status_code::INVALID_SIGNATURE => SettlementVerdict::Replan,
        status_code::NO_ACCOUNT => SettlementVerdict::WriteOff,
        _ => SettlementVerdict::Wait,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn served(seq: u64, user: u8, fee: u64) -> ServedRequest {
        ServedRequest { seq, user: Address::repeat_byte(user), chat_id: format!("chat-{seq}"), fee: U256::from(fee) }
    }

    #[test]
    fn one_settlement_per_user_in_served_order_with_the_next_nonce() {
        let unsettled = vec![served(3, 2, 30), served(1, 1, 10), served(2, 2, 20), served(4, 1, 40)];
        let batches = plan(&unsettled, |user| if user == Address::repeat_byte(1) { U256::from(7) } else { U256::ZERO });
        assert_eq!(batches.len(), 1);
        let [first, second] = batches[0].as_slice() else { panic!("two users") };
        assert_eq!((first.user, first.nonce, first.total_fee, first.seqs.clone()), (Address::repeat_byte(1), U256::from(8), U256::from(50), vec![1, 4]));
        assert_eq!((second.user, second.nonce, second.total_fee, second.seqs.clone()), (Address::repeat_byte(2), U256::from(1), U256::from(50), vec![2, 3]));
        assert_eq!(first.requests_hash, requests_hash(["chat-1", "chat-4"]));
        assert_ne!(requests_hash(["ab", "c"]), requests_hash(["a", "bc"]), "ids cannot run into each other");
    }

    #[test]
    fn a_request_pays_its_tiers_multipliers() {
        let tiers = [
            PriceTier { max_input_tokens: 100, input: (1, 1), output: (1, 1) },
            PriceTier { max_input_tokens: 0, input: (3, 2), output: (5, 2) },
        ];
        assert_eq!(tiered_fee(100, 5, U256::from(4), U256::from(10), &tiers), request_fee(100, 5, U256::from(4), U256::from(10)));
        assert_eq!(tiered_fee(101, 5, U256::from(4), U256::from(10), &tiers), Some(U256::from(606 + 125)));
        assert_eq!(tiered_fee(101, 5, U256::from(4), U256::from(10), &[]), request_fee(101, 5, U256::from(4), U256::from(10)));
        // Above every bounded tier, no unbounded one: the base prices.
        assert_eq!(tiered_fee(500, 1, U256::from(1), U256::from(1), &tiers[..1]), Some(U256::from(501)));
        let zero = [PriceTier { max_input_tokens: 0, input: (1, 0), output: (1, 1) }];
        assert_eq!(tiered_fee(1, 1, U256::from(1), U256::from(1), &zero), None);
        assert_eq!(tiered_fee(1, 1, U256::MAX, U256::from(1), &tiers[1..]), None);
    }

    #[test]
    fn fees_and_overflow() {
        assert_eq!(request_fee(10, 5, U256::from(3), U256::from(7)), Some(U256::from(65)));
        assert_eq!(request_fee(2, 0, U256::MAX, U256::ZERO), None);
        let unsettled = vec![ServedRequest { fee: U256::MAX, ..served(1, 1, 0) }, served(2, 1, 1)];
        let batches = plan(&unsettled, |_| U256::ZERO);
        assert_eq!(batches[0][0].seqs, vec![1], "the request that would overflow the total waits");
    }

    proptest! {
        /// Every request is in exactly one settlement, totals add up, and no transaction holds
        /// more than the contract takes.
        #[test]
        fn every_request_once(requests in proptest::collection::vec((0u8..80, 0u64..1_000_000), 0..300)) {
            let unsettled: Vec<ServedRequest> = requests.iter().enumerate().map(|(i, (user, fee))| served(i as u64, *user, *fee)).collect();
            let batches = plan(&unsettled, |_| U256::from(3));
            let mut seen: Vec<u64> = Vec::new();
            for batch in &batches {
                prop_assert!(batch.len() <= MAX_SETTLEMENTS_PER_TX && !batch.is_empty());
                for s in batch {
                    let total: U256 = s.seqs.iter().map(|seq| unsettled[*seq as usize].fee).sum();
                    prop_assert_eq!(total, s.total_fee);
                    prop_assert_eq!(s.nonce, U256::from(4));
                    prop_assert!(s.seqs.windows(2).all(|w| w[0] < w[1]));
                    seen.extend(&s.seqs);
                }
            }
            seen.sort();
            prop_assert_eq!(seen, (0..unsettled.len() as u64).collect::<Vec<_>>());
        }
    }

    #[test]
    fn only_what_the_chain_takes_is_sent_and_nothing_unknown_is_dropped() {
        use crate::compute::contracts::settlement_status as code;
        assert_eq!(verdict(code::SUCCESS), SettlementVerdict::Send);
        assert_eq!(verdict(code::PARTIAL), SettlementVerdict::Send);
        assert_eq!(verdict(code::INVALID_NONCE), SettlementVerdict::Replan);
        assert_eq!(verdict(code::INVALID_SIGNATURE), SettlementVerdict::Replan);
        assert_eq!(verdict(code::NO_ACCOUNT), SettlementVerdict::WriteOff);
        // Anything else (an acknowledgement missing, a status this node does not know) keeps
        // the signed settlement: a fee is never given up on a status it cannot read.
        for status in [code::PROVIDER_MISMATCH, code::NO_TEE_SIGNER, code::NOT_ACKNOWLEDGED, 8, 255] {
            assert_eq!(verdict(status), SettlementVerdict::Wait, "status {status}");
        }
    }
}
