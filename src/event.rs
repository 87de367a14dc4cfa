//! The typed CloudTrail record, tolerant of real-world mess.
//!
//! Every field is optional and every field accepts any JSON type: a string
//! field given a number or bool keeps its text, an object or array where a
//! string belongs is treated as absent. A record therefore never fails to
//! deserialize once it is a JSON object; what is not an object is an
//! [`RawRecord::Invalid`] entry, counted by the caller. Unknown fields are
//! skipped without allocating. This module does not classify callers or
//! outcomes (see `diff`), and it does not read files (see `source`).

use std::fmt;

use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;

/// The `Visitor` methods for every JSON value that is not an object: each
/// yields `$wrap("a string")`, `$wrap("a number")`, ... naming what it was
/// (an array is drained first). `scalars` leaves `visit_seq` to the caller.
macro_rules! not_an_object {
    ($ty:ty, $wrap:expr) => {
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<$ty, A::Error> {
            while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
            Ok($wrap("an array"))
        }
        not_an_object!(scalars $ty, $wrap);
    };
    (scalars $ty:ty, $wrap:expr) => {
        fn visit_str<E>(self, _: &str) -> Result<$ty, E> {
            Ok($wrap("a string"))
        }
        fn visit_bool<E>(self, _: bool) -> Result<$ty, E> {
            Ok($wrap("a bool"))
        }
        fn visit_i64<E>(self, _: i64) -> Result<$ty, E> {
            Ok($wrap("a number"))
        }
        fn visit_u64<E>(self, _: u64) -> Result<$ty, E> {
            Ok($wrap("a number"))
        }
        fn visit_f64<E>(self, _: f64) -> Result<$ty, E> {
            Ok($wrap("a number"))
        }
        fn visit_unit<E>(self) -> Result<$ty, E> {
            Ok($wrap("null"))
        }
    };
}
pub(crate) use not_an_object;

/// Declares a struct whose `Deserialize` takes a JSON object field by field:
/// unknown fields are skipped, a repeated field keeps its last value (real
/// logs repeat fields), and each field's own deserializer decides what to
/// accept. `a | b => field` lists the JSON spellings of one field.
macro_rules! lenient_struct {
    ($(#[$meta:meta])* $name:ident {
        $($(#[$fmeta:meta])* $($json:literal)|+ => $field:ident: $ty:ty = $de:path,)*
    }) => {
        $(#[$meta])*
        #[derive(Debug, Default, Clone)]
        pub struct $name {
            $($(#[$fmeta])* pub $field: $ty,)*
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V;
                impl<'de> Visitor<'de> for V {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str(concat!("a ", stringify!($name), " object"))
                    }
                    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<$name, A::Error> {
                        let mut out = $name::default();
                        while let Some(key) = map.next_key::<Key<'de>>()? {
                            match key.0.as_ref() {
                                $($($json)|+ => {
                                    struct F($ty);
                                    impl<'de> Deserialize<'de> for F {
                                        fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                                            $de(d).map(F)
                                        }
                                    }
                                    out.$field = map.next_value::<F>()?.0;
                                })*
                                _ => { map.next_value::<IgnoredAny>()?; }
                            }
                        }
                        Ok(out)
                    }
                }
                d.deserialize_map(V)
            }
        }
    };
}

lenient_struct! {
    /// One CloudTrail record, as much of it as denydiff reads.
    Event {
        "eventVersion" => event_version: Option<String> = lenient::string,
        "eventTime" => event_time: Option<String> = lenient::string,
        /// `EventSource` is SNS's spelling in event notifications (`aws:sns`),
        /// read so that `decode` can tell such a notification from a record.
        "eventSource" | "EventSource" => event_source: Option<String> = lenient::string,
        "eventName" => event_name: Option<String> = lenient::string,
        "awsRegion" => aws_region: Option<String> = lenient::string,
        "sourceIPAddress" => source_ip_address: Option<String> = lenient::string,
        "userAgent" => user_agent: Option<String> = lenient::string,
        "eventID" => event_id: Option<String> = lenient::string,
        "eventType" => event_type: Option<String> = lenient::string,
        "errorCode" => error_code: Option<String> = lenient::string,
        "errorMessage" => error_message: Option<String> = lenient::string,
        "recipientAccountId" => recipient_account_id: Option<String> = lenient::string,
        "vpcEndpointId" => vpc_endpoint_id: Option<String> = lenient::string,
        "userIdentity" => user_identity: Option<Identity> = lenient::object,
        "resources" => resources: Vec<Resource> = lenient::resources,
        /// Kept raw: only KMS records look inside (it may also be a JSON string).
        "requestParameters" => request_parameters: Option<Box<RawValue>> = lenient::raw,
        /// Kept raw: only KMS lifecycle records look inside.
        "responseElements" => response_elements: Option<Box<RawValue>> = lenient::raw,
        /// Kept raw: `RetireGrant` logs its grant id here, with null
        /// `requestParameters` (`docs/kms-events.md`, "Grants").
        "additionalEventData" => additional_event_data: Option<Box<RawValue>> = lenient::raw,
    }
}

lenient_struct! {
    /// `userIdentity`: any part may be missing (`{}` happens).
    Identity {
        "type" => kind: Option<String> = lenient::string,
        "principalId" => principal_id: Option<String> = lenient::string,
        "arn" | "ARN" => arn: Option<String> = lenient::string,
        "accountId" => account_id: Option<String> = lenient::string,
        "invokedBy" => invoked_by: Option<String> = lenient::string,
        "userName" => user_name: Option<String> = lenient::string,
        "sessionContext" => session_context: Option<SessionContext> = lenient::object,
    }
}

lenient_struct! {
    /// `userIdentity.sessionContext`: only the issuer matters here.
    SessionContext {
        "sessionIssuer" => session_issuer: Option<Issuer> = lenient::object,
    }
}

lenient_struct! {
    /// `sessionContext.sessionIssuer`: the role (or user) behind a session.
    Issuer {
        "type" => kind: Option<String> = lenient::string,
        "arn" | "ARN" => arn: Option<String> = lenient::string,
        "accountId" => account_id: Option<String> = lenient::string,
    }
}

lenient_struct! {
    /// One `resources[]` entry; real logs spell the ARN `ARN`, `arn` or `ARNPrefix`.
    Resource {
        "ARN" | "arn" => arn: Option<String> = lenient::string,
        "ARNPrefix" => arn_prefix: Option<String> = lenient::string,
        "type" => kind: Option<String> = lenient::string,
        "accountId" => account_id: Option<String> = lenient::string,
    }
}

/// A map key, borrowed from the input when it can be.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V)
    }
}

/// An entry of a `Records` array, or a line of NDJSON: a record, or not.
#[derive(Debug)]
pub enum RawRecord {
    Record(Box<Event>),
    /// Not a JSON object; the string says what it was.
    Invalid(&'static str),
}

impl<'de> Deserialize<'de> for RawRecord {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawRecordVisitor)
    }
}

struct RawRecordVisitor;

impl<'de> Visitor<'de> for RawRecordVisitor {
    type Value = RawRecord;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a CloudTrail record")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<RawRecord, A::Error> {
        let ev = Event::deserialize(de::value::MapAccessDeserializer::new(map))?;
        Ok(RawRecord::Record(Box::new(ev)))
    }

    not_an_object!(RawRecord, RawRecord::Invalid);
}

impl Event {
    /// The identity's `invokedBy`, if any.
    pub fn invoked_by(&self) -> Option<&str> {
        self.user_identity.as_ref()?.invoked_by.as_deref()
    }

    /// `requestParameters` as a JSON value, unwrapping a JSON-in-a-string.
    pub fn request(&self) -> Option<serde_json::Value> {
        parse_raw(self.request_parameters.as_deref()?)
    }

    /// `responseElements` as a JSON value, unwrapping a JSON-in-a-string.
    pub fn response(&self) -> Option<serde_json::Value> {
        parse_raw(self.response_elements.as_deref()?)
    }

    /// `additionalEventData` as a JSON value, unwrapping a JSON-in-a-string.
    pub fn additional(&self) -> Option<serde_json::Value> {
        parse_raw(self.additional_event_data.as_deref()?)
    }
}

fn parse_raw(raw: &RawValue) -> Option<serde_json::Value> {
    let v: serde_json::Value = serde_json::from_str(raw.get()).ok()?;
    match v {
        serde_json::Value::String(s) => serde_json::from_str(&s).ok(),
        serde_json::Value::Null => None,
        other => Some(other),
    }
}

/// Deserializers that accept any JSON type and never fail on a type mismatch.
pub(crate) mod lenient {
    use super::{
        Deserialize, Deserializer, IgnoredAny, MapAccess, Resource, SeqAccess, Visitor, de, fmt,
    };

    /// A string, or the text of a number or bool; anything else is absent.
    pub(crate) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        d.deserialize_any(StringVisitor)
    }

    struct StringVisitor;

    impl<'de> Visitor<'de> for StringVisitor {
        type Value = Option<String>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(Some(v.to_owned()))
        }
        fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_bool<E>(self, v: bool) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
            Ok(Some(v.to_string()))
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_none<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
            while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
            while s.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
    }

    /// An object deserialized as `T`; anything that is not an object is absent.
    struct ObjectVisitor<T>(std::marker::PhantomData<T>);

    impl<'de, T: Deserialize<'de>> Visitor<'de> for ObjectVisitor<T> {
        type Value = Option<T>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_map<A: MapAccess<'de>>(self, m: A) -> Result<Self::Value, A::Error> {
            T::deserialize(de::value::MapAccessDeserializer::new(m)).map(Some)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
            while s.next_element::<IgnoredAny>()?.is_some() {}
            Ok(None)
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }

    pub(super) fn object<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
        d: D,
    ) -> Result<Option<T>, D::Error> {
        d.deserialize_any(ObjectVisitor(std::marker::PhantomData))
    }

    /// Any JSON value, kept as its raw text; `null` is absent.
    pub(super) fn raw<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Box<serde_json::value::RawValue>>, D::Error> {
        Option::deserialize(d)
    }

    /// An array of resource objects; non-objects inside and non-arrays are dropped.
    pub(super) fn resources<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Resource>, D::Error> {
        d.deserialize_any(ResourcesVisitor)
    }

    struct ResourcesVisitor;

    impl<'de> Visitor<'de> for ResourcesVisitor {
        type Value = Vec<Resource>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("any JSON value")
        }
        fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Self::Value, A::Error> {
            let mut out = Vec::new();
            while let Some(item) = s.next_element_seed(ObjectSeed::<Resource>::default())? {
                out.extend(item);
            }
            Ok(out)
        }
        fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Self::Value, A::Error> {
            while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            Ok(Vec::new())
        }
        fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(Vec::new())
        }
    }

    struct ObjectSeed<T>(std::marker::PhantomData<T>);

    impl<T> Default for ObjectSeed<T> {
        fn default() -> Self {
            Self(std::marker::PhantomData)
        }
    }

    impl<'de, T: Deserialize<'de>> de::DeserializeSeed<'de> for ObjectSeed<T> {
        type Value = Option<T>;

        fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
            object(d)
        }
    }
}

/// A record from its JSON text, for tests.
#[cfg(test)]
pub(crate) fn test_record(json: &str) -> Event {
    match serde_json::from_str::<RawRecord>(json).unwrap() {
        RawRecord::Record(e) => *e,
        RawRecord::Invalid(what) => panic!("invalid: {what}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(json: &str) -> Event {
        test_record(json)
    }

    #[test]
    fn wrong_types_are_absent_not_errors() {
        let e = ev(
            r#"{"eventName": 5, "eventSource": ["x"], "userIdentity": "nope",
                       "resources": {"a": 1}, "errorCode": true, "eventTime": null}"#,
        );
        assert_eq!(e.event_name.as_deref(), Some("5"));
        assert_eq!(e.event_source, None);
        assert!(e.user_identity.is_none());
        assert!(e.resources.is_empty());
        assert_eq!(e.error_code.as_deref(), Some("true"));
        assert_eq!(e.event_time, None);
    }

    #[test]
    fn resource_arn_spellings() {
        let e = ev(r#"{"resources": [{"ARN": "a"}, {"arn": "b"}, {"ARNPrefix": "c"}, 7]}"#);
        let arns: Vec<_> = e.resources.iter().map(|r| r.arn.clone()).collect();
        assert_eq!(arns, [Some("a".into()), Some("b".into()), None]);
        assert_eq!(e.resources[2].arn_prefix.as_deref(), Some("c"));
    }

    #[test]
    fn request_parameters_inside_a_string() {
        let e = ev(r#"{"requestParameters": "{\"keyId\": \"k\"}"}"#);
        assert_eq!(e.request().unwrap()["keyId"], "k");
    }

    #[test]
    fn empty_identity_and_non_objects() {
        let e = ev(r#"{"userIdentity": {}}"#);
        assert!(e.user_identity.unwrap().kind.is_none());
        assert!(matches!(
            serde_json::from_str::<RawRecord>("[1,2]").unwrap(),
            RawRecord::Invalid("an array")
        ));
    }
}
