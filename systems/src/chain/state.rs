//! Turning execution output into account changes, applying them to the world's account entities
//! and recomputing the state root from what changed.

use alloy_primitives::{Address, B256, U256, keccak256};
use bevy_ecs::prelude::*;
use revm::state::EvmState;
use std::collections::BTreeMap;

use zg_components::chain::{
    AccountAddress, AccountChange, AccountIndex, AccountInfo, AccountStorage, CodeStore, StateTrie,
};

/// The account changes of a block's finalized EVM state against the world's state before the
/// block, in address order.
///
/// Accounts revm only read are skipped; touched accounts left empty are deleted (EIP-161), as
/// are self-destructed ones. Slots are compared with the world, not with revm's
/// `original_value`: revm re-baselines that at every transaction that touches a slot (EIP-2200),
/// so a slot written by one transaction and read by a later one looks unchanged to it.
pub fn changes_from_evm_state(world: &World, state: EvmState) -> BTreeMap<Address, AccountChange> {
    let before = super::evm::WorldState { world };
    let mut changes = BTreeMap::new();
    for (address, account) in state {
        if !account.is_touched() {
            continue;
        }
        let deleted = account.is_selfdestructed() || account.is_empty();
        let info = (!deleted).then_some(AccountInfo {
            nonce: account.info.nonce,
            balance: account.info.balance,
            code_hash: account.info.code_hash,
        });
        let code = if account.is_created() && !deleted {
            account.info.code.as_ref().map(|code| code.original_bytes()).filter(|c| !c.is_empty())
        } else {
            None
        };
        let mut storage: Vec<_> = if deleted {
            Vec::new()
        } else {
            let created = account.is_created();
            account
                .storage
                .iter()
                .filter(|(key, slot)| {
                    if created {
                        // The old storage is cleared: only non-zero values need writing.
                        !slot.present_value.is_zero()
                    } else {
                        let old = revm::DatabaseRef::storage_ref(&before, address, **key).unwrap_or_default();
                        slot.present_value != old
                    }
                })
                .map(|(key, slot)| (*key, slot.present_value))
                .collect()
        };
        storage.sort_unstable_by_key(|(key, _)| *key);
        changes.insert(
            address,
            AccountChange {
                address,
                info,
                storage,
                storage_cleared: deleted || account.is_created(),
                code,
            },
        );
    }
    changes
}

/// Spawns the entities of accounts the changes create, in one batch (a block of transfers to
/// fresh addresses creates thousands; one by one they cost several times more).
fn spawn_new_accounts(world: &mut World, changes: &[AccountChange]) {
    let fresh: Vec<(AccountAddress, AccountInfo, AccountStorage)> = {
        let index = world.resource::<AccountIndex>();
        changes
            .iter()
            .filter(|change| !index.0.contains_key(&change.address))
            .filter_map(|change| change.info.map(|info| (AccountAddress(change.address), info, AccountStorage::default())))
            .collect()
    };
    if fresh.is_empty() {
        return;
    }
    let addresses: Vec<Address> = fresh.iter().map(|(address, _, _)| address.0).collect();
    let entities: Vec<Entity> = world.spawn_batch(fresh).collect();
    let mut index = world.resource_mut::<AccountIndex>();
    index.0.reserve(entities.len());
    index.0.extend(addresses.into_iter().zip(entities));
}

/// Applies account changes to the world and returns the new state root. Only the changed
/// accounts' storage tries and their paths in the state trie are rehashed.
pub fn apply_changes(world: &mut World, changes: &[AccountChange]) -> B256 {
    spawn_new_accounts(world, changes);
    let mut updates: Vec<(Address, Option<Entity>)> = Vec::with_capacity(changes.len());
    for change in changes {
        let existing = world.resource::<AccountIndex>().0.get(&change.address).copied();
        let Some(info) = change.info else {
            if let Some(entity) = existing {
                world.despawn(entity);
                world.resource_mut::<AccountIndex>().0.remove(&change.address);
            }
            updates.push((change.address, None));
            continue;
        };
        if let Some(code) = &change.code {
            world.resource_mut::<CodeStore>().by_hash.insert(info.code_hash, code.clone());
        }
        let entity = match existing {
            Some(entity) => entity,
            None => {
                let entity = world
                    .spawn((AccountAddress(change.address), info, AccountStorage::default()))
                    .id();
                world.resource_mut::<AccountIndex>().0.insert(change.address, entity);
                entity
            }
        };
        let mut account = world.entity_mut(entity);
        *account.get_mut::<AccountInfo>().expect("account entities carry AccountInfo") = info;
        if change.storage_cleared || !change.storage.is_empty() {
            let mut storage =
                account.get_mut::<AccountStorage>().expect("account entities carry storage");
            if change.storage_cleared {
                *storage = AccountStorage::default();
            }
            for (slot, value) in &change.storage {
                storage.set(*slot, *value);
            }
        }
        updates.push((change.address, Some(entity)));
    }

    let leaves: Vec<(B256, Vec<u8>)> = updates
        .into_iter()
        .map(|(address, entity)| {
            let value = entity
                .map(|entity| {
                    let mut account = world.entity_mut(entity);
                    let info = *account.get::<AccountInfo>().expect("account info");
                    let root = account.get_mut::<AccountStorage>().expect("account storage").root();
                    info.trie_value(root)
                })
                .unwrap_or_default();
            (keccak256(address), value)
        })
        .collect();
    let mut trie = world.resource_mut::<StateTrie>();
    for (key, value) in leaves {
        trie.0.insert(key, value);
    }
    trie.0.root()
}


/// An account and `slots` of its storage with their Merkle proofs against the head's state root
/// (EIP-1186). An absent account or slot gets the proof of its absence.
pub fn account_proof(world: &mut World, address: Address, slots: &[U256]) -> zg_components::node::inbox::AccountProof {
    let block = world.resource::<zg_components::chain::ChainHead>().number();
    let account_proof = world.resource_mut::<StateTrie>().0.proof(keccak256(address));
    let entity = world.resource::<AccountIndex>().0.get(&address).copied();
    let mut out = zg_components::node::inbox::AccountProof {
        block,
        account_proof,
        storage_hash: alloy_trie::EMPTY_ROOT_HASH,
        ..Default::default()
    };
    let Some(entity) = entity else {
        out.storage = slots.iter().map(|slot| (*slot, U256::ZERO, Vec::new())).collect();
        return out;
    };
    let mut account = world.entity_mut(entity);
    out.info = *account.get::<AccountInfo>().expect("account entities carry AccountInfo");
    let mut storage = account.get_mut::<AccountStorage>().expect("account entities carry storage");
    out.storage_hash = storage.root();
    out.storage = slots
        .iter()
        .map(|slot| {
            let proof = if storage.slots.is_empty() { Vec::new() } else { storage.trie.proof(keccak256(slot.to_be_bytes::<32>())) };
            (*slot, storage.get(slot), proof)
        })
        .collect();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_primitives::U256;
    use alloy_trie::{HashBuilder, Nibbles};

    fn world() -> World {
        let mut world = World::new();
        world.init_resource::<AccountIndex>();
        world.init_resource::<CodeStore>();
        world.init_resource::<StateTrie>();
        world
    }

    fn funded(address: u8, balance: u64) -> AccountChange {
        AccountChange {
            address: Address::repeat_byte(address),
            info: Some(AccountInfo { balance: U256::from(balance), ..Default::default() }),
            storage: vec![],
            storage_cleared: false,
            code: None,
        }
    }

    #[test]
    fn state_root_matches_a_from_scratch_build() {
        let mut world = world();
        let mut with_storage = funded(3, 7);
        with_storage.storage = vec![(U256::from(1), U256::from(42)), (U256::from(2), U256::from(9))];
        let root = apply_changes(&mut world, &[funded(1, 10), funded(2, 20), with_storage]);

        let mut storage = HashBuilder::default();
        let mut slots: Vec<_> = [(1u64, 42u64), (2, 9)]
            .iter()
            .map(|(k, v)| (keccak256(U256::from(*k).to_be_bytes::<32>()), alloy_rlp::encode(U256::from(*v))))
            .collect();
        slots.sort();
        for (k, v) in &slots {
            storage.add_leaf(Nibbles::unpack(k), v);
        }
        let storage_root = storage.root();
        let mut accounts: Vec<_> = [(1u8, 10u64, alloy_trie::EMPTY_ROOT_HASH), (2, 20, alloy_trie::EMPTY_ROOT_HASH), (3, 7, storage_root)]
            .iter()
            .map(|(a, b, r)| {
                let info = AccountInfo { balance: U256::from(*b), ..Default::default() };
                (keccak256(Address::repeat_byte(*a)), info.trie_value(*r))
            })
            .collect();
        accounts.sort();
        let mut builder = HashBuilder::default();
        for (k, v) in &accounts {
            builder.add_leaf(Nibbles::unpack(k), v);
        }
        assert_eq!(root, builder.root());
    }

    #[test]
    fn deleting_an_account_removes_it_from_world_index_and_trie() {
        let mut world = world();
        let empty_root = apply_changes(&mut world, &[funded(1, 10)]);
        apply_changes(&mut world, &[funded(2, 5)]);
        let mut gone = funded(2, 0);
        gone.info = None;
        let root = apply_changes(&mut world, &[gone]);
        assert_eq!(root, empty_root);
        assert!(!world.resource::<AccountIndex>().0.contains_key(&Address::repeat_byte(2)));
    }
}
