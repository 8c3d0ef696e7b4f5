//! Wire primitives shared by every message: fixed-width integers, varints, (compact) strings,
//! bytes and arrays, UUIDs and tagged fields.
//!
//! Reading goes through [`ReadExt`] on [`Bytes`], so byte fields come out as zero-copy slices
//! of the input. Every read checks the remaining length first; a length prefix is never
//! trusted further than the bytes actually present, so no allocation is sized by the wire.
//! Writing goes through [`WriteExt`] on [`BytesMut`].

use bytes::{Buf, BufMut, Bytes, BytesMut};

use crate::error::{DecodeError, EncodeError};

/// A 16-byte Kafka UUID (topic ids, member ids of KIP-848).
pub type Uuid = [u8; 16];

/// An unknown tagged field, kept so that a message decoded and re-encoded loses nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawTaggedField {
    /// The tag number.
    pub tag: u32,
    /// The field's raw bytes.
    pub data: Bytes,
}

/// Checked readers over a [`Bytes`] cursor.
pub trait ReadExt {
    /// Fails unless `n` bytes remain.
    fn need(&self, n: usize, what: &'static str) -> Result<(), DecodeError>;
    /// Reads a boolean (one byte, non-zero is true).
    fn read_bool(&mut self, what: &'static str) -> Result<bool, DecodeError>;
    /// Reads an int8.
    fn read_i8(&mut self, what: &'static str) -> Result<i8, DecodeError>;
    /// Reads a big-endian int16.
    fn read_i16(&mut self, what: &'static str) -> Result<i16, DecodeError>;
    /// Reads a big-endian uint16.
    fn read_u16(&mut self, what: &'static str) -> Result<u16, DecodeError>;
    /// Reads a big-endian int32.
    fn read_i32(&mut self, what: &'static str) -> Result<i32, DecodeError>;
    /// Reads a big-endian uint32.
    fn read_u32(&mut self, what: &'static str) -> Result<u32, DecodeError>;
    /// Reads a big-endian int64.
    fn read_i64(&mut self, what: &'static str) -> Result<i64, DecodeError>;
    /// Reads a big-endian IEEE-754 float64.
    fn read_f64(&mut self, what: &'static str) -> Result<f64, DecodeError>;
    /// Reads an unsigned LEB128 varint of at most 32 bits.
    fn read_uvarint(&mut self, what: &'static str) -> Result<u32, DecodeError>;
    /// Reads a zig-zag varint of at most 32 bits.
    fn read_varint(&mut self, what: &'static str) -> Result<i32, DecodeError>;
    /// Reads a zig-zag varlong of at most 64 bits.
    fn read_varlong(&mut self, what: &'static str) -> Result<i64, DecodeError>;
    /// Reads a UUID.
    fn read_uuid(&mut self, what: &'static str) -> Result<Uuid, DecodeError>;
    /// Takes exactly `n` bytes as a zero-copy slice.
    fn read_slice(&mut self, n: usize, what: &'static str) -> Result<Bytes, DecodeError>;
    /// Reads a (compact when `flexible`) nullable string.
    fn read_nullable_string(
        &mut self,
        flexible: bool,
        what: &'static str,
    ) -> Result<Option<String>, DecodeError>;
    /// Reads a (compact when `flexible`) string that must not be null.
    fn read_string(&mut self, flexible: bool, what: &'static str) -> Result<String, DecodeError>;
    /// Reads (compact when `flexible`) nullable bytes as a zero-copy slice.
    fn read_nullable_bytes(
        &mut self,
        flexible: bool,
        what: &'static str,
    ) -> Result<Option<Bytes>, DecodeError>;
    /// Reads (compact when `flexible`) bytes that must not be null.
    fn read_bytes(&mut self, flexible: bool, what: &'static str) -> Result<Bytes, DecodeError>;
    /// Reads a (compact when `flexible`) array length; `None` is the null array. The length is
    /// checked against the remaining input assuming each element takes at least
    /// `min_elem_size` bytes, so a forged length cannot make the caller over-allocate.
    fn read_array_len(
        &mut self,
        flexible: bool,
        min_elem_size: usize,
        what: &'static str,
    ) -> Result<Option<usize>, DecodeError>;
    /// Reads a tagged-field section, calling `known` for each tag; tags it returns
    /// `Ok(false)` for are kept as [`RawTaggedField`]s.
    fn read_tagged_fields<F>(&mut self, known: F) -> Result<Vec<RawTaggedField>, DecodeError>
    where
        F: FnMut(u32, &mut Bytes) -> Result<bool, DecodeError>;
    /// Reads a tagged-field section with no known tags.
    fn read_unknown_tagged_fields(&mut self) -> Result<Vec<RawTaggedField>, DecodeError> {
        self.read_tagged_fields(|_, _| Ok(false))
    }
}

fn eof(what: &'static str, needed: usize, remaining: usize) -> DecodeError {
    DecodeError::UnexpectedEof {
        what,
        needed,
        remaining,
    }
}

impl ReadExt for Bytes {
    fn need(&self, n: usize, what: &'static str) -> Result<(), DecodeError> {
        if self.remaining() < n {
            Err(eof(what, n, self.remaining()))
        } else {
            Ok(())
        }
    }

    fn read_bool(&mut self, what: &'static str) -> Result<bool, DecodeError> {
        Ok(self.read_i8(what)? != 0)
    }

    fn read_i8(&mut self, what: &'static str) -> Result<i8, DecodeError> {
        self.need(1, what)?;
        Ok(self.get_i8())
    }

    fn read_i16(&mut self, what: &'static str) -> Result<i16, DecodeError> {
        self.need(2, what)?;
        Ok(self.get_i16())
    }

    fn read_u16(&mut self, what: &'static str) -> Result<u16, DecodeError> {
        self.need(2, what)?;
        Ok(self.get_u16())
    }

    fn read_i32(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        self.need(4, what)?;
        Ok(self.get_i32())
    }

    fn read_u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        self.need(4, what)?;
        Ok(self.get_u32())
    }

    fn read_i64(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        self.need(8, what)?;
        Ok(self.get_i64())
    }

    fn read_f64(&mut self, what: &'static str) -> Result<f64, DecodeError> {
        self.need(8, what)?;
        Ok(self.get_f64())
    }

    fn read_uvarint(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        let v = read_uvarint64(self, 5, what)?;
        u32::try_from(v).map_err(|_| DecodeError::VarintOverflow { what })
    }

    fn read_varint(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        let v = self.read_uvarint(what)?;
        Ok(((v >> 1) as i32) ^ -((v & 1) as i32))
    }

    fn read_varlong(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        let v = read_uvarint64(self, 10, what)?;
        Ok(((v >> 1) as i64) ^ -((v & 1) as i64))
    }

    fn read_uuid(&mut self, what: &'static str) -> Result<Uuid, DecodeError> {
        self.need(16, what)?;
        let mut id = [0u8; 16];
        self.copy_to_slice(&mut id);
        Ok(id)
    }

    fn read_slice(&mut self, n: usize, what: &'static str) -> Result<Bytes, DecodeError> {
        self.need(n, what)?;
        Ok(self.split_to(n))
    }

    fn read_nullable_string(
        &mut self,
        flexible: bool,
        what: &'static str,
    ) -> Result<Option<String>, DecodeError> {
        let len = if flexible {
            self.read_uvarint(what)? as i64 - 1
        } else {
            self.read_i16(what)? as i64
        };
        match len {
            -1 => Ok(None),
            n if n < -1 => Err(DecodeError::InvalidLength { what, len: n }),
            n => {
                let raw = self.read_slice(n as usize, what)?;
                String::from_utf8(raw.to_vec())
                    .map(Some)
                    .map_err(|_| DecodeError::InvalidUtf8 { what })
            }
        }
    }

    fn read_string(&mut self, flexible: bool, what: &'static str) -> Result<String, DecodeError> {
        self.read_nullable_string(flexible, what)?
            .ok_or(DecodeError::UnexpectedNull { what })
    }

    fn read_nullable_bytes(
        &mut self,
        flexible: bool,
        what: &'static str,
    ) -> Result<Option<Bytes>, DecodeError> {
        let len = if flexible {
            self.read_uvarint(what)? as i64 - 1
        } else {
            self.read_i32(what)? as i64
        };
        match len {
            -1 => Ok(None),
            n if n < -1 => Err(DecodeError::InvalidLength { what, len: n }),
            n => self.read_slice(n as usize, what).map(Some),
        }
    }

    fn read_bytes(&mut self, flexible: bool, what: &'static str) -> Result<Bytes, DecodeError> {
        self.read_nullable_bytes(flexible, what)?
            .ok_or(DecodeError::UnexpectedNull { what })
    }

    fn read_array_len(
        &mut self,
        flexible: bool,
        min_elem_size: usize,
        what: &'static str,
    ) -> Result<Option<usize>, DecodeError> {
        let len = if flexible {
            self.read_uvarint(what)? as i64 - 1
        } else {
            self.read_i32(what)? as i64
        };
        match len {
            -1 => Ok(None),
            n if n < -1 => Err(DecodeError::InvalidLength { what, len: n }),
            n => {
                let n = n as usize;
                if n.saturating_mul(min_elem_size.max(1)) > self.remaining() {
                    return Err(DecodeError::InvalidLength {
                        what,
                        len: n as i64,
                    });
                }
                Ok(Some(n))
            }
        }
    }

    fn read_tagged_fields<F>(&mut self, mut known: F) -> Result<Vec<RawTaggedField>, DecodeError>
    where
        F: FnMut(u32, &mut Bytes) -> Result<bool, DecodeError>,
    {
        let count = self.read_uvarint("tagged field count")? as usize;
        // Each tagged field takes at least two bytes (tag and size).
        if count.saturating_mul(2) > self.remaining() {
            return Err(DecodeError::InvalidLength {
                what: "tagged field count",
                len: count as i64,
            });
        }
        let mut unknown = Vec::new();
        let mut last: Option<u32> = None;
        for _ in 0..count {
            let tag = self.read_uvarint("tag")?;
            if last.is_some_and(|l| tag <= l) {
                return Err(DecodeError::InvalidValue {
                    what: "tagged fields",
                    reason: format!("tag {tag} out of ascending order"),
                });
            }
            last = Some(tag);
            let size = self.read_uvarint("tagged field size")? as usize;
            let mut data = self.read_slice(size, "tagged field data")?;
            let keep = data.clone();
            if !known(tag, &mut data)? {
                unknown.push(RawTaggedField { tag, data: keep });
            }
        }
        Ok(unknown)
    }
}

fn read_uvarint64(
    buf: &mut Bytes,
    max_bytes: usize,
    what: &'static str,
) -> Result<u64, DecodeError> {
    let mut value: u64 = 0;
    for i in 0..max_bytes {
        let b = buf.read_i8(what)? as u8;
        value |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(DecodeError::VarintOverflow { what })
}

/// Writers onto a [`BytesMut`].
pub trait WriteExt {
    /// Writes a boolean.
    fn write_bool(&mut self, v: bool);
    /// Writes an unsigned LEB128 varint.
    fn write_uvarint(&mut self, v: u32);
    /// Writes a zig-zag varint.
    fn write_varint(&mut self, v: i32);
    /// Writes a zig-zag varlong.
    fn write_varlong(&mut self, v: i64);
    /// Writes a UUID.
    fn write_uuid(&mut self, v: &Uuid);
    /// Writes a (compact when `flexible`) nullable string.
    fn write_nullable_string(
        &mut self,
        v: Option<&str>,
        flexible: bool,
        what: &'static str,
    ) -> Result<(), EncodeError>;
    /// Writes a (compact when `flexible`) string.
    fn write_string(
        &mut self,
        v: &str,
        flexible: bool,
        what: &'static str,
    ) -> Result<(), EncodeError> {
        self.write_nullable_string(Some(v), flexible, what)
    }
    /// Writes (compact when `flexible`) nullable bytes.
    fn write_nullable_bytes(
        &mut self,
        v: Option<&[u8]>,
        flexible: bool,
        what: &'static str,
    ) -> Result<(), EncodeError>;
    /// Writes (compact when `flexible`) bytes.
    fn write_bytes(
        &mut self,
        v: &[u8],
        flexible: bool,
        what: &'static str,
    ) -> Result<(), EncodeError> {
        self.write_nullable_bytes(Some(v), flexible, what)
    }
    /// Writes a (compact when `flexible`) array length; `None` is the null array.
    fn write_array_len(
        &mut self,
        len: Option<usize>,
        flexible: bool,
        what: &'static str,
    ) -> Result<(), EncodeError>;
    /// Writes a tagged-field section: the given `(tag, bytes)` pairs merged in tag order with
    /// the preserved unknown fields.
    fn write_tagged_fields(&mut self, known: &[(u32, Bytes)], unknown: &[RawTaggedField]);
}

impl WriteExt for BytesMut {
    fn write_bool(&mut self, v: bool) {
        self.put_i8(i8::from(v));
    }

    fn write_uvarint(&mut self, mut v: u32) {
        while v >= 0x80 {
            self.put_u8((v as u8) | 0x80);
            v >>= 7;
        }
        self.put_u8(v as u8);
    }

    fn write_varint(&mut self, v: i32) {
        self.write_uvarint(((v << 1) ^ (v >> 31)) as u32);
    }

    fn write_varlong(&mut self, v: i64) {
        let mut z = ((v << 1) ^ (v >> 63)) as u64;
        while z >= 0x80 {
            self.put_u8((z as u8) | 0x80);
            z >>= 7;
        }
        self.put_u8(z as u8);
    }

    fn write_uuid(&mut self, v: &Uuid) {
        self.put_slice(v);
    }

    fn write_nullable_string(
        &mut self,
        v: Option<&str>,
        flexible: bool,
        what: &'static str,
    ) -> Result<(), EncodeError> {
        match v {
            None if flexible => self.write_uvarint(0),
            None => self.put_i16(-1),
            Some(s) => {
                if flexible {
                    let len = u32::try_from(s.len() + 1)
                        .map_err(|_| EncodeError::TooLong { what, len: s.len() })?;
                    self.write_uvarint(len);
                } else {
                    let len = i16::try_from(s.len())
                        .map_err(|_| EncodeError::TooLong { what, len: s.len() })?;
                    self.put_i16(len);
                }
                self.put_slice(s.as_bytes());
            }
        }
        Ok(())
    }

    fn write_nullable_bytes(
        &mut self,
        v: Option<&[u8]>,
        flexible: bool,
        what: &'static str,
    ) -> Result<(), EncodeError> {
        match v {
            None if flexible => self.write_uvarint(0),
            None => self.put_i32(-1),
            Some(b) => {
                if flexible {
                    let len = u32::try_from(b.len() + 1)
                        .map_err(|_| EncodeError::TooLong { what, len: b.len() })?;
                    self.write_uvarint(len);
                } else {
                    let len = i32::try_from(b.len())
                        .map_err(|_| EncodeError::TooLong { what, len: b.len() })?;
                    self.put_i32(len);
                }
                self.put_slice(b);
            }
        }
        Ok(())
    }

    fn write_array_len(
        &mut self,
        len: Option<usize>,
        flexible: bool,
        what: &'static str,
    ) -> Result<(), EncodeError> {
        match len {
            None if flexible => self.write_uvarint(0),
            None => self.put_i32(-1),
            Some(n) => {
                if flexible {
                    let n =
                        u32::try_from(n + 1).map_err(|_| EncodeError::TooLong { what, len: n })?;
                    self.write_uvarint(n);
                } else {
                    let n = i32::try_from(n).map_err(|_| EncodeError::TooLong { what, len: n })?;
                    self.put_i32(n);
                }
            }
        }
        Ok(())
    }

    fn write_tagged_fields(&mut self, known: &[(u32, Bytes)], unknown: &[RawTaggedField]) {
        let mut all: Vec<(u32, &[u8])> = known
            .iter()
            .map(|(t, d)| (*t, d.as_ref()))
            .chain(unknown.iter().map(|f| (f.tag, f.data.as_ref())))
            .collect();
        all.sort_by_key(|(t, _)| *t);
        self.write_uvarint(all.len() as u32);
        for (tag, data) in all {
            self.write_uvarint(tag);
            self.write_uvarint(data.len() as u32);
            self.put_slice(data);
        }
    }
}

/// Reads a whole array of `T` with `read_elem`, bounding the count by the remaining input.
pub fn read_array<T, F>(
    buf: &mut Bytes,
    flexible: bool,
    min_elem_size: usize,
    what: &'static str,
    mut read_elem: F,
) -> Result<Option<Vec<T>>, DecodeError>
where
    F: FnMut(&mut Bytes) -> Result<T, DecodeError>,
{
    match buf.read_array_len(flexible, min_elem_size, what)? {
        None => Ok(None),
        Some(n) => {
            let mut out = Vec::with_capacity(n);
            for _ in 0..n {
                out.push(read_elem(buf)?);
            }
            Ok(Some(out))
        }
    }
}

/// Like [`read_array`], but a null array is an error.
pub fn read_required_array<T, F>(
    buf: &mut Bytes,
    flexible: bool,
    min_elem_size: usize,
    what: &'static str,
    read_elem: F,
) -> Result<Vec<T>, DecodeError>
where
    F: FnMut(&mut Bytes) -> Result<T, DecodeError>,
{
    read_array(buf, flexible, min_elem_size, what, read_elem)?
        .ok_or(DecodeError::UnexpectedNull { what })
}

/// Writes a whole array with `write_elem`.
pub fn write_array<T, F>(
    buf: &mut BytesMut,
    items: &[T],
    flexible: bool,
    what: &'static str,
    mut write_elem: F,
) -> Result<(), EncodeError>
where
    F: FnMut(&mut BytesMut, &T) -> Result<(), EncodeError>,
{
    buf.write_array_len(Some(items.len()), flexible, what)?;
    for item in items {
        write_elem(buf, item)?;
    }
    Ok(())
}

/// Encodes one known tagged field's value into its own buffer.
pub(crate) fn encode_tag<F>(tag: u32, write: F) -> Result<(u32, Bytes), EncodeError>
where
    F: FnOnce(&mut BytesMut) -> Result<(), EncodeError>,
{
    let mut b = BytesMut::new();
    write(&mut b)?;
    Ok((tag, b.freeze()))
}

/// Decodes one known tagged field's value, which must fill its bytes exactly.
pub(crate) fn decode_tag<T, F>(
    data: &mut Bytes,
    what: &'static str,
    read: F,
) -> Result<T, DecodeError>
where
    F: FnOnce(&mut Bytes) -> Result<T, DecodeError>,
{
    let value = read(data)?;
    if data.is_empty() {
        Ok(value)
    } else {
        Err(DecodeError::TrailingBytes {
            what,
            remaining: data.len(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip() {
        for v in [0i32, 1, -1, 63, -64, 64, 300, i32::MAX, i32::MIN] {
            let mut b = BytesMut::new();
            b.write_varint(v);
            let mut r = b.freeze();
            assert_eq!(r.read_varint("v"), Ok(v));
            assert!(r.is_empty());
        }
        for v in [0i64, 1, -1, 1 << 40, i64::MAX, i64::MIN] {
            let mut b = BytesMut::new();
            b.write_varlong(v);
            let mut r = b.freeze();
            assert_eq!(r.read_varlong("v"), Ok(v));
        }
    }

    #[test]
    fn overlong_varint_is_an_error() {
        let mut r = Bytes::from_static(&[0xff, 0xff, 0xff, 0xff, 0xff, 0x01]);
        assert!(matches!(
            r.read_uvarint("x"),
            Err(DecodeError::VarintOverflow { .. })
        ));
    }

    #[test]
    fn strings_round_trip_in_both_forms() {
        for flexible in [false, true] {
            let mut b = BytesMut::new();
            b.write_nullable_string(None, flexible, "s").unwrap();
            b.write_string("héllo", flexible, "s").unwrap();
            b.write_nullable_bytes(Some(b"\x00\x01"), flexible, "b")
                .unwrap();
            b.write_nullable_bytes(None, flexible, "b").unwrap();
            let mut r = b.freeze();
            assert_eq!(r.read_nullable_string(flexible, "s").unwrap(), None);
            assert_eq!(r.read_string(flexible, "s").unwrap(), "héllo");
            assert_eq!(r.read_bytes(flexible, "b").unwrap().as_ref(), b"\x00\x01");
            assert_eq!(r.read_nullable_bytes(flexible, "b").unwrap(), None);
            assert!(r.is_empty());
        }
    }

    #[test]
    fn forged_lengths_are_rejected_without_allocating() {
        let mut r = Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff]);
        assert!(r.read_array_len(false, 4, "a").is_err());
        let mut r = Bytes::from_static(&[0x7f, 0xff, 0xff, 0xff]);
        assert!(r.read_nullable_bytes(false, "b").is_err());
        let mut r = Bytes::from_static(&[0xff, 0xfe]);
        assert!(r.read_nullable_string(false, "s").is_err());
    }

    #[test]
    fn unknown_tagged_fields_are_preserved() {
        let mut b = BytesMut::new();
        let unknown = vec![RawTaggedField {
            tag: 7,
            data: Bytes::from_static(b"xyz"),
        }];
        b.write_tagged_fields(&[(1, Bytes::from_static(b"a"))], &unknown);
        let mut r = b.freeze();
        let mut seen_known = false;
        let kept = r
            .read_tagged_fields(|tag, data| {
                if tag == 1 {
                    seen_known = data.as_ref() == b"a";
                    Ok(true)
                } else {
                    Ok(false)
                }
            })
            .unwrap();
        assert!(seen_known);
        assert_eq!(kept, unknown);
    }
}
