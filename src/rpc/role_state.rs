//! What the roles' JSON-RPC methods keep in the shared context, one value per type: the
//! Ethereum surface carries it without naming any role (the DA role puts its `DaNode` here, the
//! compute role its provider probes).

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::sync::Arc;

#[derive(Clone, Default)]
pub struct RoleState(HashMap<TypeId, Arc<dyn Any + Send + Sync>>);

impl RoleState {
    /// Keeps `value` (replacing one of the same type).
    pub fn insert<T: Any + Send + Sync>(&mut self, value: T) {
        self.0.insert(TypeId::of::<T>(), Arc::new(value));
    }

    /// The value of type `T` a role kept, if any.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<&T> {
        self.0.get(&TypeId::of::<T>())?.downcast_ref()
    }
}

impl std::fmt::Debug for RoleState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RoleState({} values)", self.0.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_value_comes_back_by_its_type_only() {
        let mut state = RoleState::default();
        assert!(state.get::<u32>().is_none());
        state.insert(7u32);
        state.insert(String::from("da"));
        assert_eq!(state.get::<u32>(), Some(&7));
        assert_eq!(state.get::<String>().map(String::as_str), Some("da"));
        assert!(state.get::<u64>().is_none(), "another type is not confused with it");
        state.insert(9u32);
        assert_eq!(state.get::<u32>(), Some(&9), "the later value replaces the earlier");
    }
}
