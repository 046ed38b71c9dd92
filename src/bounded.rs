//! Compile-time upper bounds on the postcard-encoded size of wire types.
//!
//! Every wire type implements [`MaxSize`]; [`crate::frame`] asserts at compile time that the
//! largest message fits the 1 KiB frame limit. Structs get their bound from
//! [`wire_struct!`](crate::wire_struct), so a new field cannot be forgotten in the sum.

/// Upper bound, in bytes, of the postcard encoding of a value of this type.
pub trait MaxSize {
    /// The bound.
    const MAX_SIZE: usize;
}

/// Bytes a postcard varint needs for any value up to `max`.
pub const fn varint_size(max: u64) -> usize {
    let mut n = 1;
    let mut v = max >> 7;
    while v != 0 {
        n += 1;
        v >>= 7;
    }
    n
}

macro_rules! impl_fixed {
    ($($t:ty => $n:expr),* $(,)?) => { $(impl MaxSize for $t { const MAX_SIZE: usize = $n; })* };
}
impl_fixed! {
    bool => 1, u8 => 1, i8 => 1, f32 => 4, f64 => 8, () => 0,
    u16 => varint_size(u16::MAX as u64), i16 => varint_size(u16::MAX as u64),
    u32 => varint_size(u32::MAX as u64), i32 => varint_size(u32::MAX as u64),
    u64 => varint_size(u64::MAX), i64 => varint_size(u64::MAX),
}

impl<T: MaxSize> MaxSize for Option<T> {
    const MAX_SIZE: usize = 1 + T::MAX_SIZE;
}

impl<T: MaxSize, const N: usize> MaxSize for [T; N] {
    const MAX_SIZE: usize = N * T::MAX_SIZE;
}

impl<T: MaxSize, const N: usize> MaxSize for heapless::Vec<T, N> {
    const MAX_SIZE: usize = varint_size(N as u64) + N * T::MAX_SIZE;
}

impl<const N: usize> MaxSize for heapless::String<N> {
    const MAX_SIZE: usize = varint_size(N as u64) + N;
}

/// Defines a wire struct: derives serde, the postcard schema and [`MaxSize`] as the sum of its
/// fields' bounds.
#[macro_export]
#[doc(hidden)]
macro_rules! wire_struct {
    (
        $(#[$m:meta])*
        pub struct $name:ident {
            $( $(#[$fm:meta])* pub $field:ident : $ty:ty ),* $(,)?
        }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize, postcard_schema::Schema)]
        pub struct $name {
            $( $(#[$fm])* pub $field: $ty, )*
        }
        impl $crate::bounded::MaxSize for $name {
            const MAX_SIZE: usize = 0 $( + <$ty as $crate::bounded::MaxSize>::MAX_SIZE )*;
        }
    };
}

/// Defines a field-less wire enum (encoded as one varint byte).
#[macro_export]
#[doc(hidden)]
macro_rules! wire_enum {
    (
        $(#[$m:meta])*
        pub enum $name:ident {
            $( $(#[$vm:meta])* $variant:ident ),* $(,)?
        }
    ) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize, postcard_schema::Schema)]
        pub enum $name {
            $( $(#[$vm])* $variant, )*
        }
        impl $crate::bounded::MaxSize for $name {
            // Fewer than 128 variants, so the discriminant varint is one byte.
            const MAX_SIZE: usize = 1;
        }
        impl $name {
            /// Every variant, in wire order.
            pub const ALL: &'static [$name] = &[$($name::$variant),*];
        }
        const _: () = assert!($name::ALL.len() < 128);
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varint_sizes_match_postcard() {
        let mut buf = [0u8; 16];
        for v in [0u64, 127, 128, 16_383, 16_384, u32::MAX as u64, u64::MAX] {
            let n = postcard::to_slice(&v, &mut buf).unwrap().len();
            assert_eq!(n, varint_size(v), "value {v}");
        }
        assert_eq!(
            u16::MAX_SIZE,
            postcard::to_slice(&u16::MAX, &mut buf).unwrap().len()
        );
        assert_eq!(
            i32::MAX_SIZE,
            postcard::to_slice(&i32::MIN, &mut buf).unwrap().len()
        );
    }
}
