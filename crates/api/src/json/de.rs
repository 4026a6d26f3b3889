//! The `Deserializer` over a parsed `serde_json::Value` that gives derived
//! serde types Go's `encoding/json` semantics (see the module docs).

use std::fmt::Display;

use serde::de::value::{BorrowedStrDeserializer, StrDeserializer};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Error, Map, Value};

/// One JSON value and the struct-field path that led to it (for errors
/// worded as Go's: `Config.HostConfig.Memory`).
#[derive(Clone, Copy)]
pub struct GoValue<'de, 'p> {
    pub value: &'de Value,
    pub path: &'p Path<'p>,
}

/// The struct fields from the root, as Go names them in its errors (array
/// indexes and map keys are not part of Go's path).
pub enum Path<'p> {
    Root,
    Field(&'p Path<'p>, &'p str),
}

impl Display for Path<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Field(Path::Root, name) => f.write_str(name),
            Path::Field(parent, name) => write!(f, "{parent}.{name}"),
        }
    }
}

/// What Go calls the JSON value in "cannot unmarshal X into ...".
fn kind(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(_) => "bool".into(),
        Value::Number(n) => format!("number {n}"),
        Value::String(_) => "string".into(),
        Value::Array(_) => "array".into(),
        Value::Object(_) => "object".into(),
    }
}

impl<'de> GoValue<'de, '_> {
    /// Go's wrong-type error: `json: cannot unmarshal string into Go struct
    /// field Config.Cmd of type []string`.
    fn mismatch(&self, go_type: &str) -> Error {
        let into = match self.path {
            Path::Root => String::from("Go value"),
            p => format!("Go struct field {p}"),
        };
        de::Error::custom(format!(
            "json: cannot unmarshal {} into {into} of type {go_type}",
            kind(self.value)
        ))
    }

    /// A visitor refused a value of the right JSON kind (an integer out of
    /// range, say): reworded as Go's mismatch.
    fn refused<T>(&self, go_type: &str, r: Result<T, Error>) -> Result<T, Error> {
        r.map_err(|_| self.mismatch(go_type))
    }

    fn int<V: Visitor<'de>>(self, go_type: &str, v: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => v.visit_u64(0),
            Value::Number(n) => {
                let r = if let Some(u) = n.as_u64() {
                    v.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    v.visit_i64(i)
                } else {
                    return Err(self.mismatch(go_type));
                };
                self.refused(go_type, r)
            }
            _ => Err(self.mismatch(go_type)),
        }
    }

    fn float<V: Visitor<'de>>(self, go_type: &str, v: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => v.visit_f64(0.0),
            Value::Number(n) => match n.as_f64() {
                Some(f) => self.refused(go_type, v.visit_f64(f)),
                None => Err(self.mismatch(go_type)),
            },
            _ => Err(self.mismatch(go_type)),
        }
    }

    fn seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => v.visit_seq(Seq {
                items: [].iter(),
                path: self.path,
            }),
            Value::Array(items) => v.visit_seq(Seq {
                items: items.iter(),
                path: self.path,
            }),
            _ => Err(self.mismatch("slice")),
        }
    }

    fn map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let entries: Vec<(&'de str, &'de Value)> = match self.value {
            Value::Null => Vec::new(),
            Value::Object(m) => m.iter().map(|(k, v)| (k.as_str(), v)).collect(),
            _ => return Err(self.mismatch("map")),
        };
        v.visit_map(Entries {
            entries: entries.into_iter(),
            value: None,
            field_path: false,
            path: self.path,
        })
    }
}

/// Maps each incoming key to the struct's own field name: an exact match
/// wins, else the first field equal under case folding, as Go's decoder
/// does. When two keys land on one field the last one wins (Go overwrites;
/// serde would call it a duplicate). Unknown keys pass through for the
/// derived code to skip.
fn canonical_entries<'de>(
    map: &'de Map<String, Value>,
    fields: &'static [&'static str],
) -> Vec<(&'de str, &'de Value)> {
    let mut out: Vec<(&'de str, &'de Value)> = Vec::with_capacity(map.len());
    for (k, v) in map {
        let name: &'de str = if fields.contains(&k.as_str()) {
            k.as_str()
        } else {
            let folded = k.to_lowercase();
            fields
                .iter()
                .find(|f| f.to_lowercase() == folded)
                .copied()
                .unwrap_or(k.as_str())
        };
        match out.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = v,
            None => out.push((name, v)),
        }
    }
    out
}

macro_rules! ints {
    ($($method:ident => $go:literal),* $(,)?) => {$(
        fn $method<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
            self.int($go, v)
        }
    )*};
}

impl<'de> Deserializer<'de> for GoValue<'de, '_> {
    type Error = Error;

    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => v.visit_unit(),
            Value::Bool(b) => v.visit_bool(*b),
            Value::Number(n) => {
                if let Some(u) = n.as_u64() {
                    v.visit_u64(u)
                } else if let Some(i) = n.as_i64() {
                    v.visit_i64(i)
                } else {
                    v.visit_f64(n.as_f64().unwrap_or_default())
                }
            }
            Value::String(s) => v.visit_borrowed_str(s),
            Value::Array(_) => self.seq(v),
            Value::Object(_) => self.map(v),
        }
    }

    fn deserialize_bool<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => v.visit_bool(false),
            Value::Bool(b) => v.visit_bool(*b),
            _ => Err(self.mismatch("bool")),
        }
    }

    ints! {
        deserialize_i8 => "int8", deserialize_i16 => "int16",
        deserialize_i32 => "int32", deserialize_i64 => "int64",
        deserialize_i128 => "int64", deserialize_u8 => "uint8",
        deserialize_u16 => "uint16", deserialize_u32 => "uint32",
        deserialize_u64 => "uint64", deserialize_u128 => "uint64",
    }

    fn deserialize_f32<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.float("float32", v)
    }

    fn deserialize_f64<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.float("float64", v)
    }

    fn deserialize_char<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_str<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => v.visit_borrowed_str(""),
            Value::String(s) => self.refused("string", v.visit_borrowed_str(s)),
            _ => Err(self.mismatch("string")),
        }
    }

    fn deserialize_string<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_bytes<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_any(v)
    }

    fn deserialize_byte_buf<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_any(v)
    }

    /// `null` is a nil pointer; anything else is the pointed-to value.
    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => v.visit_none(),
            _ => v.visit_some(self),
        }
    }

    fn deserialize_unit<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_unit()
    }

    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        v.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        v.visit_newtype_struct(self)
    }

    fn deserialize_seq<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.seq(v)
    }

    fn deserialize_tuple<V: Visitor<'de>>(self, _len: usize, v: V) -> Result<V::Value, Error> {
        self.seq(v)
    }

    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        _name: &'static str,
        _len: usize,
        v: V,
    ) -> Result<V::Value, Error> {
        self.seq(v)
    }

    fn deserialize_map<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.map(v)
    }

    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        let entries = match self.value {
            Value::Null => Vec::new(),
            Value::Object(m) => canonical_entries(m, fields),
            _ => return Err(self.mismatch(name)),
        };
        v.visit_map(Entries {
            entries: entries.into_iter(),
            value: None,
            field_path: true,
            path: self.path,
        })
    }

    /// Go has no sum types: an enum is a string (unit variants); others
    /// are decoded as serde_json decodes them.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        v: V,
    ) -> Result<V::Value, Error> {
        match self.value {
            Value::Null => v.visit_enum(StrDeserializer::<Error>::new("")),
            Value::String(s) => self.refused(
                "string",
                v.visit_enum(BorrowedStrDeserializer::<Error>::new(s)),
            ),
            other => other.deserialize_enum(name, variants, v),
        }
    }

    fn deserialize_identifier<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.deserialize_str(v)
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        v.visit_unit()
    }
}

struct Seq<'de, 'p> {
    items: std::slice::Iter<'de, Value>,
    path: &'p Path<'p>,
}

impl<'de> SeqAccess<'de> for Seq<'de, '_> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        match self.items.next() {
            None => Ok(None),
            Some(value) => seed
                .deserialize(GoValue {
                    value,
                    path: self.path,
                })
                .map(Some),
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len())
    }
}

/// A struct's or a map's entries; a struct's keys extend the error path.
struct Entries<'de, 'p> {
    entries: std::vec::IntoIter<(&'de str, &'de Value)>,
    value: Option<(&'de str, &'de Value)>,
    field_path: bool,
    path: &'p Path<'p>,
}

impl<'de> MapAccess<'de> for Entries<'de, '_> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        match self.entries.next() {
            None => Ok(None),
            Some((k, v)) => {
                self.value = Some((k, v));
                seed.deserialize(BorrowedStrDeserializer::<Error>::new(k))
                    .map(Some)
            }
        }
    }

    fn next_value_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<T::Value, Error> {
        let Some((key, value)) = self.value.take() else {
            return Err(de::Error::custom("value asked before its key"));
        };
        if self.field_path {
            let path = Path::Field(self.path, key);
            seed.deserialize(GoValue { value, path: &path })
        } else {
            seed.deserialize(GoValue {
                value,
                path: self.path,
            })
        }
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.entries.len())
    }
}
