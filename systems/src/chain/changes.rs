//! A block's account changes ([`AccountChange`] by address), begun from the world's accounts:
//! what execution, rewards and dev edits write before the block is sealed.

use alloy_primitives::{Address, keccak256};
use bevy_ecs::prelude::*;
use std::collections::BTreeMap;

use zg_components::chain::{AccountChange, StateEdit};

/// The block's change of `address`, begun from the world's account when the block has none yet.
pub fn change_entry<'a>(
    world: &World,
    changes: &'a mut std::collections::BTreeMap<Address, AccountChange>,
    address: Address,
) -> &'a mut AccountChange {
    changes.entry(address).or_insert_with(|| AccountChange {
        address,
        info: Some(super::evm::account_info(world, &address).unwrap_or_default()),
        storage: Vec::new(),
        storage_cleared: false,
        code: None,
    })
}

/// Applies dev edits on top of a block's changes (they come after its transactions).
pub fn apply_edits(world: &World, changes: &mut BTreeMap<Address, AccountChange>, edits: &[StateEdit]) {
    for edit in edits {
        let address = match edit {
            StateEdit::Balance(address, _)
            | StateEdit::Nonce(address, _)
            | StateEdit::Code(address, _)
            | StateEdit::Storage(address, _, _) => *address,
        };
        let change = change_entry(world, changes, address);
        let info = change.info.get_or_insert_with(Default::default);
        match edit {
            StateEdit::Balance(_, balance) => info.balance = *balance,
            StateEdit::Nonce(_, nonce) => info.nonce = *nonce,
            StateEdit::Code(_, code) => {
                info.code_hash = keccak256(code);
                change.code = Some(code.clone());
            }
            StateEdit::Storage(_, slot, value) => {
                change.storage.retain(|(s, _)| s != slot);
                change.storage.push((*slot, *value));
            }
        }
    }
}
