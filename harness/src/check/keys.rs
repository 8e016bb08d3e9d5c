//! The hot path of `expect_json_field`: which top-level keys a JSON object
//! has, without building values or allocating.

use std::borrow::Cow;
use std::fmt;

use super::BodyCheck;

/// Which of the `JsonField` checks (by index, as bits) name a top-level key
/// of the JSON object in `body`. Keys are compared as borrowed slices where
/// they have no escapes, values are skipped unparsed.
pub(super) fn top_level_keys(body: &[u8], checks: &[BodyCheck]) -> Result<u64, serde_json::Error> {
    use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};

    struct Key<'de>(Cow<'de, str>);

    impl<'de> serde::Deserialize<'de> for Key<'de> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
            struct KeyVisitor;
            impl<'de> Visitor<'de> for KeyVisitor {
                type Value = Key<'de>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a key")
                }
                fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Borrowed(v)))
                }
                fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                    Ok(Key(Cow::Owned(v.to_owned())))
                }
            }
            d.deserialize_str(KeyVisitor)
        }
    }

    struct Keys<'c>(&'c [BodyCheck]);

    impl<'de> Visitor<'de> for Keys<'_> {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<u64, A::Error> {
            let mut found = 0u64;
            while let Some(Key(key)) = map.next_key()? {
                for (i, check) in self.0.iter().enumerate().take(64) {
                    if matches!(check, BodyCheck::JsonField { field } if *field == key) {
                        found |= 1 << i;
                    }
                }
                map.next_value::<IgnoredAny>()?;
            }
            Ok(found)
        }
    }

    let mut de = serde_json::Deserializer::from_slice(body);
    let found = de.deserialize_map(Keys(checks))?;
    de.end()?;
    Ok(found)
}
