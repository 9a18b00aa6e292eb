//! Readiness of long-running components (pollers), shown by `/readyz` beside sink health.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

/// State of one component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ComponentState {
    /// Started, not yet proven to work (first pull not answered yet).
    Starting,
    /// Working.
    Ready,
    /// Recovering from a transient error (retrying with backoff); still counted as ready.
    Degraded(String),
    /// Stopped on an error an operator must fix (bad credentials, VOD not activated).
    Failed(String),
}

impl ComponentState {
    /// True when the component does not make the process unready.
    pub fn is_ready(&self) -> bool {
        matches!(self, ComponentState::Ready | ComponentState::Degraded(_))
    }
}

/// Shared, cheaply cloneable table of component states. Locks are never held across `.await`.
#[derive(Debug, Clone, Default)]
pub struct Readiness {
    inner: Arc<RwLock<BTreeMap<String, ComponentState>>>,
}

impl Readiness {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Record the state of `component` (e.g. `poller:tencent`).
    pub fn set(&self, component: &str, state: ComponentState) {
        let mut map = self
            .inner
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        map.insert(component.to_owned(), state);
    }

    /// Every component and its state, sorted by name.
    pub fn snapshot(&self) -> Vec<(String, ComponentState)> {
        let map = self
            .inner
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// True when every registered component is ready.
    pub fn all_ready(&self) -> bool {
        self.snapshot().iter().all(|(_, s)| s.is_ready())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failed_component_makes_the_table_unready() {
        let r = Readiness::new();
        r.set("poller:a", ComponentState::Ready);
        assert!(r.all_ready());
        r.set(
            "poller:b",
            ComponentState::Failed("AuthFailure.SecretIdNotFound".into()),
        );
        assert!(!r.all_ready());
        assert_eq!(r.snapshot().len(), 2);
    }
}
