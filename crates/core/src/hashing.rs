//! The hash maps of the node: keyed with secrets drawn from the node's RNG, so
//! iteration order is reproducible for a seed (simulation) while clients cannot
//! predict collisions.

use rand::rngs::StdRng;
use rand::Rng;
use std::collections::HashMap;

/// A hash map keyed by [`seeded_hasher`].
pub(crate) type Map<K, V> = HashMap<K, V, ahash::RandomState>;

/// A hasher keyed with four secrets drawn from `rng`.
pub(crate) fn seeded_hasher(rng: &mut StdRng) -> ahash::RandomState {
    ahash::RandomState::with_seeds(rng.gen(), rng.gen(), rng.gen(), rng.gen())
}
