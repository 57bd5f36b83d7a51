//! A map keyed by a state event's (type, state_key), as synapse_compress_state uses it: the
//! API of matrix-org/rust-matrix-state-map, which is not published on any registry.
//!
//! Keys are owned strings in a BTreeMap: iteration is ordered (the compressor's SQL comes out
//! in a stable order) and equality is the map's. The upstream crate interns keys to save
//! memory; the compressor bounds memory by its chunk size instead.

use std::collections::btree_map;
use std::collections::BTreeMap;
use std::iter::FromIterator;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StateMap<T> {
    inner: BTreeMap<(String, String), T>,
}

impl<T> Default for StateMap<T> {
    fn default() -> Self {
        StateMap { inner: BTreeMap::new() }
    }
}

impl<T> StateMap<T> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the value for (event type, state key), returning the one it replaced.
    pub fn insert(&mut self, typ: &str, state_key: &str, value: T) -> Option<T> {
        self.inner.insert((typ.to_owned(), state_key.to_owned()), value)
    }

    pub fn get(&self, typ: &str, state_key: &str) -> Option<&T> {
        self.inner.get(&(typ.to_owned(), state_key.to_owned()))
    }

    pub fn get_mut(&mut self, typ: &str, state_key: &str) -> Option<&mut T> {
        self.inner.get_mut(&(typ.to_owned(), state_key.to_owned()))
    }

    pub fn contains_key(&self, typ: &str, state_key: &str) -> bool {
        self.get(typ, state_key).is_some()
    }

    pub fn remove(&mut self, typ: &str, state_key: &str) -> Option<T> {
        self.inner.remove(&(typ.to_owned(), state_key.to_owned()))
    }

    pub fn len(&self) -> usize {
        self.inner.len()
    }

    pub fn is_empty(&self) -> bool {
        self.inner.is_empty()
    }

    /// ((type, state_key), value) pairs, ordered by type then state key.
    pub fn iter(&self) -> Iter<'_, T> {
        Iter { inner: self.inner.iter() }
    }

    pub fn keys(&self) -> impl Iterator<Item = (&str, &str)> {
        self.inner.keys().map(|(t, s)| (t.as_str(), s.as_str()))
    }

    pub fn values(&self) -> impl Iterator<Item = &T> {
        self.inner.values()
    }
}

pub struct Iter<'a, T> {
    inner: btree_map::Iter<'a, (String, String), T>,
}

impl<'a, T> Iterator for Iter<'a, T> {
    type Item = ((&'a str, &'a str), &'a T);

    fn next(&mut self) -> Option<Self::Item> {
        self.inner.next().map(|((t, s), v)| ((t.as_str(), s.as_str()), v))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.inner.size_hint()
    }
}

impl<'a, T> IntoIterator for &'a StateMap<T> {
    type Item = ((&'a str, &'a str), &'a T);
    type IntoIter = Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.iter()
    }
}

impl<'a, T> Extend<((&'a str, &'a str), T)> for StateMap<T> {
    fn extend<I: IntoIterator<Item = ((&'a str, &'a str), T)>>(&mut self, iter: I) {
        for ((t, s), v) in iter {
            self.insert(t, s, v);
        }
    }
}

impl<T> Extend<((String, String), T)> for StateMap<T> {
    fn extend<I: IntoIterator<Item = ((String, String), T)>>(&mut self, iter: I) {
        self.inner.extend(iter);
    }
}

impl<'a, T> FromIterator<((&'a str, &'a str), T)> for StateMap<T> {
    fn from_iter<I: IntoIterator<Item = ((&'a str, &'a str), T)>>(iter: I) -> Self {
        let mut map = StateMap::new();
        map.extend(iter);
        map
    }
}

#[cfg(test)]
mod tests {
    use super::StateMap;

    #[test]
    fn insert_get_replace_remove() {
        let mut m: StateMap<String> = StateMap::new();
        assert!(m.is_empty());
        assert_eq!(m.insert("m.room.member", "@a:x", "$1".into()), None);
        assert_eq!(m.insert("m.room.member", "@a:x", "$2".into()), Some("$1".into()));
        assert_eq!(m.get("m.room.member", "@a:x"), Some(&"$2".to_string()));
        assert_eq!(m.get("m.room.member", "@b:x"), None);
        assert!(m.contains_key("m.room.member", "@a:x"));
        assert!(!m.contains_key("m.room.topic", "@a:x"));
        assert_eq!(m.len(), 1);
        assert_eq!(m.remove("m.room.member", "@a:x"), Some("$2".into()));
        assert!(m.is_empty());
    }

    #[test]
    fn type_and_state_key_are_separate_parts_of_the_key() {
        // ("ab", "c") and ("a", "bc") must not collide.
        let mut m: StateMap<u8> = StateMap::new();
        m.insert("ab", "c", 1);
        m.insert("a", "bc", 2);
        m.insert("", "", 3);
        assert_eq!(m.len(), 3);
        assert_eq!(m.get("ab", "c"), Some(&1));
        assert_eq!(m.get("a", "bc"), Some(&2));
        assert_eq!(m.get("", ""), Some(&3));
    }

    #[test]
    fn iterates_in_key_order_and_keys_match() {
        let mut m: StateMap<u8> = StateMap::new();
        m.insert("m.room.topic", "", 3);
        m.insert("m.room.create", "", 1);
        m.insert("m.room.member", "@b:x", 2);
        let items: Vec<_> = m.iter().map(|((t, s), v)| (t, s, *v)).collect();
        assert_eq!(items, vec![("m.room.create", "", 1), ("m.room.member", "@b:x", 2), ("m.room.topic", "", 3)]);
        let keys: Vec<_> = m.keys().collect();
        assert_eq!(keys, vec![("m.room.create", ""), ("m.room.member", "@b:x"), ("m.room.topic", "")]);
        assert_eq!(m.values().copied().collect::<Vec<_>>(), vec![1, 2, 3]);
    }

    #[test]
    fn extend_overrides_like_applying_a_delta() {
        // The compressor collapses a chain of deltas by extending with each in turn.
        let mut full: StateMap<String> = StateMap::new();
        full.insert("m.room.name", "", "$old".into());
        full.insert("m.room.member", "@a:x", "$join".into());
        let mut delta: StateMap<String> = StateMap::new();
        delta.insert("m.room.name", "", "$new".into());
        delta.insert("m.room.member", "@b:x", "$join2".into());
        full.extend(delta.iter().map(|((t, s), e)| ((t, s), e.clone())));
        assert_eq!(full.len(), 3);
        assert_eq!(full.get("m.room.name", ""), Some(&"$new".to_string()));
        assert_eq!(full.get("m.room.member", "@a:x"), Some(&"$join".to_string()));
    }

    #[test]
    fn equality_ignores_insertion_order() {
        let a: StateMap<u8> = vec![(("t", "1"), 1), (("t", "2"), 2)].into_iter().collect();
        let b: StateMap<u8> = vec![(("t", "2"), 2), (("t", "1"), 1)].into_iter().collect();
        assert_eq!(a, b);
        let c: StateMap<u8> = vec![(("t", "2"), 2)].into_iter().collect();
        assert_ne!(a, c);
        assert_eq!(StateMap::<u8>::default(), StateMap::new());
    }

    #[test]
    fn clone_is_independent() {
        let mut a: StateMap<u8> = StateMap::new();
        a.insert("t", "", 1);
        let b = a.clone();
        a.insert("t", "", 2);
        assert_eq!(b.get("t", ""), Some(&1));
    }
}
