//! Reading a [`CaseEvent`] without buffering it.
//!
//! Stored events are internally tagged (`{"type": "discharged", ...}`).
//! serde's derived reader for that form cannot know where the tag is, so
//! it first copies the whole event into a tree of its own (a vector of
//! entries per map, strings with escapes copied), then reads the variant
//! out of that copy: reading a discharge took about half as long again as
//! it does here, and a backlog replay reads one event per message. Every
//! event is written with its tag first (serde's writer puts it there, and
//! both backends keep the written bytes), so this reader takes the tag
//! from the first key and reads the rest of the map straight into the
//! variant. An event whose tag is not first (written by hand, or by
//! another tool) is still read, through a `serde_json::Value`.
//!
//! The variants' fields are listed a second time, in [`Fields`], as serde's
//! remote derive wants them; it constructs `CaseEvent` itself, so a field
//! missing from the copy does not compile, and its derived `Serialize`
//! matches on every variant, so a variant missing does not compile either.
//! The tests check that the copy names each variant as `CaseEvent` does.

use std::borrow::Cow;

use serde::de::value::StrDeserializer;
use serde::de::{
    self, DeserializeSeed, Deserializer, EnumAccess, IgnoredAny, IntoDeserializer, MapAccess,
    VariantAccess, Visitor,
};
use serde::{Deserialize, Serialize};
use time::{Date, OffsetDateTime};

use super::{CaseEvent, ClosureReason, EarlierCase};
use crate::domain::agency::AgencyId;
use crate::domain::deadline::DeadlineKind;
use crate::domain::intake::{DecisionNumber, TermMonths};
use crate::domain::person::Person;
use crate::domain::region::RegionCode;

/// The name of the tag, as `CaseEvent`'s `#[serde(tag)]` gives it.
const TAG: &str = "type";

impl<'de> Deserialize<'de> for CaseEvent {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(EventVisitor)
    }
}

/// `CaseEvent`'s variants and fields, externally tagged: read from the
/// variant name (the tag) and the map after it. Serialize is derived too
/// only so that a variant missing here fails to compile (its `match` must
/// be exhaustive); the tests use it.
#[derive(Serialize, Deserialize)]
#[serde(remote = "CaseEvent", rename_all = "kebab-case")]
pub(super) enum Fields {
    ReleaseAnnounced {
        decision_number: DecisionNumber,
        person: Person,
        planned_release_date: Date,
        term: TermMonths,
        executing_region: RegionCode,
        project: Option<AgencyId>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        oversight: Option<AgencyId>,
        #[serde(default)]
        earlier_open_cases: Vec<EarlierCase>,
    },
    Discharged {
        decision_number: DecisionNumber,
        person: Person,
        #[serde(with = "time::serde::rfc3339")]
        released_at: OffsetDateTime,
        term: TermMonths,
        executing_region: RegionCode,
        project: Option<AgencyId>,
        #[serde(default)]
        oversight: Option<AgencyId>,
        late_notice: bool,
        #[serde(default)]
        earlier_open_cases: Vec<EarlierCase>,
    },
    PickedUp,
    Reported,
    TransferRequested {
        to_region: RegionCode,
        to_project: AgencyId,
        reason: String,
    },
    TransferAccepted,
    TransferRejected {
        reason: String,
    },
    TransferWithdrawn {
        reason: String,
    },
    Arrived,
    Assigned {
        executing_region: RegionCode,
        project: AgencyId,
        reason: String,
    },
    AbsenceNotified {
        host_region: RegionCode,
        host_project: Option<AgencyId>,
        from: Date,
        until: Date,
        reason: String,
    },
    ContactLost {
        note: String,
    },
    ContactRestored {
        note: String,
    },
    Suspended {
        reason: String,
    },
    Resumed,
    Closed {
        reason: ClosureReason,
        note: String,
    },
    DeadlineMissed {
        kind: DeadlineKind,
        anchor: u32,
        #[serde(with = "time::serde::rfc3339")]
        due_at: OffsetDateTime,
    },
}

struct EventVisitor;

impl<'de> Visitor<'de> for EventVisitor {
    type Value = CaseEvent;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a case event: a map with its \"type\"")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CaseEvent, A::Error> {
        match map.next_key_seed(FirstKeySeed)? {
            None => Err(de::Error::missing_field(TAG)),
            Some(FirstKey::Tag) => {
                let tag = map.next_value_seed(TagSeed)?;
                Fields::deserialize(Rest { tag, map })
            }
            Some(FirstKey::Other(first)) => {
                let mut object = serde_json::Map::new();
                object.insert(first, map.next_value()?);
                while let Some((key, value)) = map.next_entry()? {
                    object.insert(key, value);
                }
                out_of_order(object).map_err(de::Error::custom)
            }
        }
    }
}

/// An event whose tag is not its first key, already read whole.
fn out_of_order(
    mut object: serde_json::Map<String, serde_json::Value>,
) -> serde_json::Result<CaseEvent> {
    let tag = object
        .remove(TAG)
        .ok_or_else(|| de::Error::missing_field(TAG))?;
    Fields::deserialize(Rest {
        tag: Cow::Owned(String::deserialize(tag)?),
        map: de::value::MapDeserializer::new(object.into_iter()),
    })
}

/// The first key of an event: the tag, or another (kept, to be read again
/// with the rest).
enum FirstKey {
    Tag,
    Other(String),
}

struct FirstKeySeed;

impl<'de> DeserializeSeed<'de> for FirstKeySeed {
    type Value = FirstKey;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<FirstKey, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl Visitor<'_> for FirstKeySeed {
    type Value = FirstKey;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<FirstKey, E> {
        Ok(if key == TAG {
            FirstKey::Tag
        } else {
            FirstKey::Other(key.to_owned())
        })
    }
}

/// The tag's value, borrowed from the input when it can be.
struct TagSeed;

impl<'de> DeserializeSeed<'de> for TagSeed {
    type Value = Cow<'de, str>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for TagSeed {
    type Value = Cow<'de, str>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("the name of a kind of event")
    }

    fn visit_borrowed_str<E: de::Error>(self, tag: &'de str) -> Result<Self::Value, E> {
        Ok(Cow::Borrowed(tag))
    }

    fn visit_str<E: de::Error>(self, tag: &str) -> Result<Self::Value, E> {
        Ok(Cow::Owned(tag.to_owned()))
    }
}

/// The event's map after its tag, presented as an externally tagged enum:
/// the tag names the variant, the rest of the map is its fields.
struct Rest<'t, A> {
    tag: Cow<'t, str>,
    map: A,
}

impl<'de, A: MapAccess<'de>> Deserializer<'de> for Rest<'_, A> {
    type Error = A::Error;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, A::Error> {
        visitor.visit_enum(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

impl<'de, A: MapAccess<'de>> EnumAccess<'de> for Rest<'_, A> {
    type Error = A::Error;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), A::Error> {
        let name: StrDeserializer<'_, A::Error> = self.tag.as_ref().into_deserializer();
        let variant = seed.deserialize(name)?;
        Ok((variant, self))
    }
}

impl<'de, A: MapAccess<'de>> VariantAccess<'de> for Rest<'_, A> {
    type Error = A::Error;

    /// A kind of event without fields; any keys after the tag are ignored,
    /// as they are for the others.
    fn unit_variant(mut self) -> Result<(), A::Error> {
        while self.map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(())
    }

    fn struct_variant<V: Visitor<'de>>(
        self,
        _fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, A::Error> {
        visitor.visit_map(self.map)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _seed: T) -> Result<T::Value, A::Error> {
        Err(de::Error::custom("no kind of event holds a single value"))
    }

    fn tuple_variant<V: Visitor<'de>>(
        self,
        _len: usize,
        _visitor: V,
    ) -> Result<V::Value, A::Error> {
        Err(de::Error::custom("no kind of event holds a sequence"))
    }
}

#[cfg(test)]
mod tests;
