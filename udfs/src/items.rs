//! Item keys: the SQL values that name items (model names, ids), mapped to the dense `u32`
//! ids the kernels work with.

use crate::spec::is_text;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, DictionaryArray, Int64Array, LargeStringArray, StringArray,
    StringBuilder, StringViewArray, UInt32Array,
};
use datafusion::arrow::buffer::{NullBuffer, ScalarBuffer};
use datafusion::arrow::datatypes::{DataType, Int64Type, UInt32Type};
use datafusion::common::{internal_err, plan_err, HashMap, Result};
use std::sync::Arc;

/// Whether a function's items are text or integers; decides the `item` output type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemKind {
    Text,
    Integer,
}

impl ItemKind {
    /// The kind for an argument type, or a plan error naming the function and argument.
    pub fn of(function: &str, arg: &str, data_type: &DataType) -> Result<Self> {
        match data_type {
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Null => {
                Ok(ItemKind::Text)
            }
            DataType::Dictionary(_, value) => ItemKind::of(function, arg, value),
            t if t.is_integer() => Ok(ItemKind::Integer),
            other => plan_err!("{function}: {arg} must be a string or integer column, got {other}"),
        }
    }

    /// The type an item argument is coerced to before it reaches the accumulator.
    pub fn coerced_type(self, original: &DataType) -> DataType {
        match (self, original) {
            (ItemKind::Text, DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View) => {
                original.clone()
            }
            // Read by key: each distinct value is interned once per batch.
            (ItemKind::Text, DataType::Dictionary(_, value)) if is_text(value) => original.clone(),
            (ItemKind::Text, _) => DataType::Utf8,
            (ItemKind::Integer, _) => DataType::Int64,
        }
    }

    pub fn output_type(self) -> DataType {
        match self {
            ItemKind::Text => DataType::Utf8,
            ItemKind::Integer => DataType::Int64,
        }
    }
}

/// A borrowed item value from one row.
#[derive(Debug, Clone, Copy)]
pub enum ItemRef<'a> {
    Text(&'a str),
    Integer(i64),
}

/// Row access to an item column of any supported (coerced) type.
pub enum ItemColumn<'a> {
    Utf8(&'a StringArray),
    LargeUtf8(&'a LargeStringArray),
    Utf8View(&'a StringViewArray),
    Int64(&'a Int64Array),
    /// Dictionary-encoded text: each row's key into `values`, and which rows are valid
    /// (a NULL key or a NULL value is a NULL item).
    Dictionary {
        keys: Vec<usize>,
        valid: Option<NullBuffer>,
        values: Box<ItemColumn<'a>>,
    },
    AllNull,
}

impl<'a> ItemColumn<'a> {
    pub fn new(array: &'a ArrayRef) -> Result<Self> {
        Ok(match array.data_type() {
            DataType::Utf8 => ItemColumn::Utf8(array.as_string::<i32>()),
            DataType::LargeUtf8 => ItemColumn::LargeUtf8(array.as_string::<i64>()),
            DataType::Utf8View => ItemColumn::Utf8View(array.as_string_view()),
            DataType::Int64 => ItemColumn::Int64(array.as_primitive::<Int64Type>()),
            DataType::Null => ItemColumn::AllNull,
            DataType::Dictionary(_, value) if is_text(value) => {
                let dictionary = array.as_any_dictionary();
                // No values: every key is NULL (and `normalized_keys` would panic).
                let keys = if dictionary.values().is_empty() {
                    vec![0; array.len()]
                } else {
                    dictionary.normalized_keys()
                };
                ItemColumn::Dictionary {
                    keys,
                    valid: array.logical_nulls(),
                    values: Box::new(ItemColumn::new(dictionary.values())?),
                }
            }
            other => return internal_err!("unexpected item column type {other}"),
        })
    }

    #[inline]
    pub fn get(&self, row: usize) -> Option<ItemRef<'a>> {
        match self {
            ItemColumn::Utf8(a) => a.is_valid(row).then(|| ItemRef::Text(a.value(row))),
            ItemColumn::LargeUtf8(a) => a.is_valid(row).then(|| ItemRef::Text(a.value(row))),
            ItemColumn::Utf8View(a) => a.is_valid(row).then(|| ItemRef::Text(a.value(row))),
            ItemColumn::Int64(a) => a.is_valid(row).then(|| ItemRef::Integer(a.value(row))),
            ItemColumn::Dictionary { keys, values, .. } => {
                self.is_valid(row).then(|| values.get(keys[row])).flatten()
            }
            ItemColumn::AllNull => None,
        }
    }

    #[inline]
    pub fn is_valid(&self, row: usize) -> bool {
        match self {
            ItemColumn::Utf8(a) => a.is_valid(row),
            ItemColumn::LargeUtf8(a) => a.is_valid(row),
            ItemColumn::Utf8View(a) => a.is_valid(row),
            ItemColumn::Int64(a) => a.is_valid(row),
            ItemColumn::Dictionary { valid, .. } => valid.as_ref().is_none_or(|v| v.is_valid(row)),
            ItemColumn::AllNull => false,
        }
    }

    /// The number of rows.
    fn len(&self) -> usize {
        match self {
            ItemColumn::Utf8(a) => a.len(),
            ItemColumn::LargeUtf8(a) => a.len(),
            ItemColumn::Utf8View(a) => a.len(),
            ItemColumn::Int64(a) => a.len(),
            ItemColumn::Dictionary { keys, .. } => keys.len(),
            // Only ever a dictionary's values; their count does not matter.
            ItemColumn::AllNull => 0,
        }
    }

    /// Whether two rows hold equal item values (both non-null).
    #[inline]
    pub fn same(x: ItemRef, y: ItemRef) -> bool {
        match (x, y) {
            (ItemRef::Text(a), ItemRef::Text(b)) => a == b,
            (ItemRef::Integer(a), ItemRef::Integer(b)) => a == b,
            _ => false,
        }
    }
}

/// Marks a shared id with no canonical or local id in the group being read.
pub const UNSEEN: u32 = u32::MAX;

/// The id local to one group of the shared id `shared`: its position among the group's
/// shared ids in order of first appearance, which are `ids[first..]` (appended to when
/// `shared` is new). `local` holds each shared id's local id, or [`UNSEEN`]; put the group's
/// entries back to [`UNSEEN`] with [`forget_local`] before the next group.
#[inline]
pub fn local_id(local: &mut [u32], ids: &mut Vec<usize>, first: usize, shared: u32) -> u32 {
    let slot = &mut local[shared as usize];
    if *slot == UNSEEN {
        *slot = (ids.len() - first) as u32;
        ids.push(shared as usize);
    }
    *slot
}

/// Puts the entries of `local` for the shared ids `ids` back to [`UNSEEN`].
pub fn forget_local(local: &mut [u32], ids: &[usize]) {
    for &id in ids {
        local[id] = UNSEEN;
    }
}

/// The inverse of a permutation: `inverse(order)[order[k]] = k`.
pub fn inverse(order: &[usize]) -> Vec<usize> {
    let mut position = vec![0; order.len()];
    for (k, &id) in order.iter().enumerate() {
        position[id] = k;
    }
    position
}

/// Dictionaries up to this size are searched linearly.
const SMALL: usize = 12;

/// The id of integer `v` in an [`ItemInterner::Integer`]'s parts: an array read for a value
/// seen before in the direct range, else [`integer_id_slow`].
#[inline]
fn integer_id(
    ids: &mut HashMap<i64, u32>,
    values: &mut Vec<i64>,
    direct: &mut Vec<u32>,
    v: i64,
) -> u32 {
    // A negative `v` wraps to a huge index and misses.
    match direct.get(v as usize) {
        Some(&id) if id != u32::MAX => id,
        _ => integer_id_slow(ids, values, direct, v),
    }
}

#[inline(never)]
fn integer_id_slow(
    ids: &mut HashMap<i64, u32>,
    values: &mut Vec<i64>,
    direct: &mut Vec<u32>,
    v: i64,
) -> u32 {
    // Dense non-negative ids (rater numbers, item ids 0..n) are found by one array read.
    // The array covers 0..max(DIRECT, 4 × distinct values), so it stays proportional to the
    // dictionary; a value in that range lives only in the array (the range never shrinks),
    // others in the hash map.
    let limit = DIRECT.max(4 * values.len() as i64);
    if (0..limit).contains(&v) {
        if direct.len() <= v as usize {
            direct.resize(
                (v as usize + 1).max(2 * direct.len()).min(limit as usize),
                u32::MAX,
            );
        }
        let slot = &mut direct[v as usize];
        if *slot == u32::MAX {
            // Only values interned outside the range as it then was are in the map; while
            // it is empty (dense ids arriving in order), a new value needs no lookup.
            let elsewhere = match ids.is_empty() {
                true => None,
                false => ids.get(&v),
            };
            *slot = match elsewhere {
                Some(&id) => id,
                None => {
                    values.push(v);
                    (values.len() - 1) as u32
                }
            };
        }
        return *slot;
    }
    if values.len() <= SMALL {
        if let Some(id) = values.iter().position(|&x| x == v) {
            return id as u32;
        }
    }
    *ids.entry(v).or_insert_with(|| {
        values.push(v);
        (values.len() - 1) as u32
    })
}

/// A map from the 16-byte views of one string-view array to small values (item ids, outcome
/// codes). Two equal views in one array are equal strings: a string of up to 12 bytes is
/// inline in its view, and a longer one is named by its buffer and offset. Parquet's
/// dictionary-encoded string pages decode to views that repeat, so most rows are found here
/// without hashing or comparing their text. Views of long strings mean nothing across
/// arrays: one cache per column and batch.
///
/// Open addressing with linear probing over a power-of-two table, hashed by one
/// multiplication: a column holds a few hundred distinct views, and the table stays in the
/// first-level cache.
pub struct ViewCache {
    slots: Vec<(u128, u32)>,
    len: usize,
    /// 64 − log₂ of the table's size: the hash's top bits index it.
    shift: u32,
}

/// Marks a free slot; no id or code reaches it.
const FREE: u32 = u32::MAX;

/// The most views of long strings an [`ItemReader`] caches per batch.
const LONG_VIEWS_CACHED: usize = 1024;

impl Default for ViewCache {
    fn default() -> Self {
        Self {
            slots: vec![(0, FREE); 256],
            len: 0,
            shift: 64 - 8,
        }
    }
}

impl ViewCache {
    #[inline]
    fn home(&self, view: u128) -> usize {
        let folded = (view as u64) ^ ((view >> 64) as u64);
        (folded.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> self.shift) as usize
    }

    #[inline]
    pub fn get(&self, view: u128) -> Option<u32> {
        let mask = self.slots.len() - 1;
        let mut at = self.home(view);
        loop {
            let (key, value) = self.slots[at];
            if value == FREE {
                return None;
            }
            if key == view {
                return Some(value);
            }
            at = (at + 1) & mask;
        }
    }

    /// Add `view` (not yet present) with `value`.
    pub fn insert(&mut self, view: u128, value: u32) {
        debug_assert!(value != FREE);
        if 2 * (self.len + 1) > self.slots.len() {
            let doubled = vec![(0, FREE); 2 * self.slots.len()];
            let old = std::mem::replace(&mut self.slots, doubled);
            self.shift -= 1;
            for (key, value) in old.into_iter().filter(|&(_, v)| v != FREE) {
                self.place(key, value);
            }
        }
        self.place(view, value);
        self.len += 1;
    }

    fn place(&mut self, view: u128, value: u32) {
        let mask = self.slots.len() - 1;
        let mut at = self.home(view);
        while self.slots[at].1 != FREE {
            at = (at + 1) & mask;
        }
        self.slots[at] = (view, value);
    }
}

/// One item column of a batch, read row by row into interner ids, through a [`ViewCache`]
/// of the rows' 16-byte string views, so that a row's text is read only the first time its
/// view is seen.
pub struct ItemReader<'a> {
    column: ItemColumn<'a>,
    /// Per row, its string's view: a string-view column's own, or made for a plain string
    /// column (pandas' `str` and Arrow's `large_string` arrive so), whose strings of up to 12
    /// bytes are then compared and found as one integer each.
    views: Option<ScalarBuffer<u128>>,
    /// Whether equal views of long strings are equal strings, so that long views may be
    /// cached (a string-view column's own views; see [`string_views`]).
    cache_long: bool,
    cache: ViewCache,
    /// For a dictionary column, the id of each dictionary value once a row has used it.
    by_key: Vec<u32>,
}

/// The rows' 16-byte string views of a text column, and whether equal views of long
/// strings are equal strings (so that long views may be cached). A string-view array's own
/// views (Parquet's dictionary pages repeat them), or views made once per batch from a
/// plain string array's offsets and bytes (pandas' `str` and Arrow's `large_string` arrive
/// so). Made views are for comparing and caching only: a string of up to 12 bytes is inline,
/// as in a string-view array, and equal strings have equal views; a longer one holds its
/// length and 4-byte prefix, so that unequal ones usually differ, but equal views of long
/// strings say nothing. Made once, in one tight loop, they cost less than making each row's
/// view where it is compared (measured: 0.25 s against 0.285 s for `bt_rank` over 10M rows).
/// `None` for a column that is not text.
pub fn string_views(array: &ArrayRef) -> Option<(ScalarBuffer<u128>, bool)> {
    fn made<O: Copy + Into<i64>>(offsets: &[O], data: &[u8]) -> ScalarBuffer<u128> {
        let mut views = Vec::with_capacity(offsets.len().saturating_sub(1));
        for w in offsets.windows(2) {
            views.push(made_view(w[0].into() as usize, w[1].into() as usize, data));
        }
        ScalarBuffer::from(views)
    }
    match array.data_type() {
        DataType::Utf8View => Some((array.as_string_view().views().clone(), true)),
        DataType::Utf8 => {
            let a = array.as_string::<i32>();
            Some((made(a.value_offsets(), a.value_data()), false))
        }
        DataType::LargeUtf8 => {
            let a = array.as_string::<i64>();
            Some((made(a.value_offsets(), a.value_data()), false))
        }
        _ => None,
    }
}

/// Calls `f(row, view)` for every row of a text column in row order, with the view
/// [`string_views`] would give the row, made where it is used instead of into a buffer; the
/// rows' views are then never stored (a 16-byte view per row is more memory than the column's
/// own offsets and text). Whether equal views of long strings are equal strings, or `None`
/// (and no call) for a column that is not text.
pub fn each_view(array: &ArrayRef, mut f: impl FnMut(usize, u128)) -> Option<bool> {
    fn made<O: Copy + Into<i64>>(offsets: &[O], data: &[u8], f: &mut impl FnMut(usize, u128)) {
        for (row, w) in offsets.windows(2).enumerate() {
            f(
                row,
                made_view(w[0].into() as usize, w[1].into() as usize, data),
            );
        }
    }
    match array.data_type() {
        DataType::Utf8View => {
            for (row, &view) in array.as_string_view().views().iter().enumerate() {
                f(row, view);
            }
            Some(true)
        }
        DataType::Utf8 => {
            let a = array.as_string::<i32>();
            made(a.value_offsets(), a.value_data(), &mut f);
            Some(false)
        }
        DataType::LargeUtf8 => {
            let a = array.as_string::<i64>();
            made(a.value_offsets(), a.value_data(), &mut f);
            Some(false)
        }
        _ => None,
    }
}

/// The view of the string at `data[start..end]` (see [`StringViews`]).
#[inline]
fn made_view(start: usize, end: usize, data: &[u8]) -> u128 {
    let len = end - start;
    // The first 12 bytes as one number (zero beyond the data's end), then only the
    // string's own kept.
    let bytes = match data.get(start..start + 12) {
        Some(b) => {
            let low = u64::from_le_bytes(b[..8].try_into().expect("8 bytes"));
            let high = u32::from_le_bytes(b[8..].try_into().expect("4 bytes"));
            low as u128 | (high as u128) << 64
        }
        None => {
            let rest = &data[start.min(data.len())..];
            let mut head = [0u8; 16];
            head[..rest.len()].copy_from_slice(rest);
            u128::from_le_bytes(head)
        }
    };
    let kept = match len {
        0..=12 => bytes & ((1u128 << (8 * len)) - 1),
        _ => bytes & 0xFFFF_FFFF,
    };
    (kept << 32) | len.min(u32::MAX as usize) as u128
}

impl<'a> ItemReader<'a> {
    pub fn new(array: &'a ArrayRef) -> Result<Self> {
        let column = ItemColumn::new(array)?;
        let (views, cache_long) = match string_views(array) {
            Some((views, cache_long)) => (Some(views), cache_long),
            None => (None, false),
        };
        let by_key = match &column {
            ItemColumn::Dictionary { values, .. } => vec![FREE; values.len()],
            _ => Vec::new(),
        };
        Ok(Self {
            cache_long,
            column,
            views,
            cache: ViewCache::default(),
            by_key,
        })
    }

    #[inline]
    pub fn is_valid(&self, row: usize) -> bool {
        self.column.is_valid(row)
    }

    /// The id of row `row`'s item, which must be non-NULL, interned in `items`.
    #[inline]
    pub fn id(&mut self, items: &mut ItemInterner, row: usize) -> Result<u32> {
        let Some(views) = &self.views else {
            if let ItemColumn::Dictionary { keys, values, .. } = &self.column {
                let key = keys[row];
                if self.by_key[key] == FREE {
                    let value = values.get(key).expect("a valid row's value");
                    self.by_key[key] = items.intern(value)?;
                }
                return Ok(self.by_key[key]);
            }
            return items.intern(self.item(row));
        };
        let view = views[row];
        if let Some(id) = self.cache.get(view) {
            return Ok(id);
        }
        let id = items.intern(self.item(row))?;
        // Long views repeat only where a Parquet dictionary page made them: past a few
        // hundred distinct ones they are a frame's, one per row, and caching them would only
        // grow the table.
        if view as u32 <= 12 || (self.cache_long && self.cache.len < LONG_VIEWS_CACHED) {
            self.cache.insert(view, id);
        }
        Ok(id)
    }

    fn item(&self, row: usize) -> ItemRef<'a> {
        self.column.get(row).expect("a valid row")
    }

    /// Whether row `row` holds the same item in `self` and `other` (both non-NULL). Views of
    /// string-view columns settle most rows: inline strings compare in the view itself (their
    /// bytes, not the padding), and long ones differ if their lengths or 4-byte prefixes do.
    #[inline]
    pub fn same(&self, other: &ItemReader, row: usize) -> bool {
        if let (Some(x), Some(y)) = (&self.views, &other.views) {
            let (x, y) = (x[row], y[row]);
            let len = x as u32;
            if len != y as u32 {
                return false;
            }
            if len <= 12 {
                let bits = 32 + 8 * len;
                let mask = if bits == 128 {
                    u128::MAX
                } else {
                    (1u128 << bits) - 1
                };
                return (x ^ y) & mask == 0;
            }
            if (x >> 32) as u32 != (y >> 32) as u32 {
                return false;
            }
        }
        ItemColumn::same(self.item(row), other.item(row))
    }
}

/// Marks a NULL row in [`ItemCodes::codes`].
pub const NULL_CODE: u32 = u32::MAX;

/// The most distinct integers an [`ItemCodes`] caches per batch; past them each new row gets
/// a code of its own (and is interned as usual), so the cache stays in the processor's cache.
const INTEGERS_CACHED: usize = 4096;

/// One item column of a batch numbered a column at a time: every row gets a code local to
/// the batch (rows with equal codes hold equal items; equal items usually share a code), found
/// in one tight loop through a [`ViewCache`] of the rows' views, or a dictionary's key. A
/// code's interner id is looked up only when a row that counts first asks for it, so an
/// item seen only in rows that are skipped never enters the interner.
pub struct ItemCodes<'a> {
    column: ItemColumn<'a>,
    /// Per row, its code, or [`NULL_CODE`].
    pub codes: Vec<u32>,
    /// Per code, the row where it first appears (not for a dictionary, whose codes are its
    /// keys).
    firsts: Vec<usize>,
    /// Per code, its interner id once asked for, else `FREE`.
    ids: Vec<u32>,
}

impl<'a> ItemCodes<'a> {
    pub fn new(array: &'a ArrayRef) -> Result<Self> {
        let column = ItemColumn::new(array)?;
        let mut firsts = Vec::new();
        if let ItemColumn::Dictionary {
            keys,
            valid,
            values,
        } = &column
        {
            let codes = match valid {
                None => keys.iter().map(|&k| k as u32).collect(),
                Some(valid) => keys
                    .iter()
                    .zip(valid.iter())
                    .map(|(&k, v)| if v { k as u32 } else { NULL_CODE })
                    .collect(),
            };
            let ids = vec![FREE; values.len()];
            return Ok(Self {
                column,
                codes,
                firsts,
                ids,
            });
        }
        let nulls = array.logical_nulls().filter(|n| n.null_count() > 0);
        // Views of long strings are cached only where equal views are equal strings (a
        // string-view column's own), and then only up to a cap; integers up to theirs.
        let cap = match array.data_type() {
            DataType::Utf8View => LONG_VIEWS_CACHED,
            DataType::Int64 => INTEGERS_CACHED,
            _ => 0,
        };
        let mut coder = ViewCoder::new(&mut firsts, nulls.as_ref(), cap, array.len());
        let text = each_view(array, |row, view| coder.push(row, view, view as u32 <= 12));
        if let (None, ItemColumn::Int64(a)) = (text, &column) {
            for (row, &v) in a.values().iter().enumerate() {
                coder.push(row, v as u64 as u128, false);
            }
        }
        // A column of NULLs (its type `Null`) is neither.
        let mut codes = coder.codes;
        codes.resize(array.len(), NULL_CODE);
        Ok(Self {
            ids: vec![FREE; firsts.len()],
            column,
            codes,
            firsts,
        })
    }

    /// The item of `code`.
    pub fn item(&self, code: u32) -> ItemRef<'a> {
        match &self.column {
            ItemColumn::Dictionary { values, .. } => values.get(code as usize),
            column => column.get(self.firsts[code as usize]),
        }
        .expect("a coded row holds a value")
    }

    /// The interner id of `code`, interning its item the first time.
    #[inline(always)]
    pub fn id(&mut self, items: &mut ItemInterner, code: u32) -> Result<u32> {
        let id = self.ids[code as usize];
        if id != FREE {
            return Ok(id);
        }
        self.intern(items, code)
    }

    #[cold]
    #[inline(never)]
    fn intern(&mut self, items: &mut ItemInterner, code: u32) -> Result<u32> {
        let id = items.intern(self.item(code))?;
        self.ids[code as usize] = id;
        Ok(id)
    }

    /// Whether `code` here and `other_code` in `other` hold the same item. Both coded
    /// through the same interner, their ids settle it once known.
    #[inline(always)]
    pub fn same(&self, code: u32, other: &ItemCodes, other_code: u32) -> bool {
        let (x, y) = (self.ids[code as usize], other.ids[other_code as usize]);
        if x != FREE && y != FREE {
            return x == y;
        }
        self.same_items(code, other, other_code)
    }

    /// [`ItemCodes::same`] by the items themselves, until both ids are known.
    #[cold]
    #[inline(never)]
    fn same_items(&self, code: u32, other: &ItemCodes, other_code: u32) -> bool {
        ItemColumn::same(self.item(code), other.item(other_code))
    }
}

/// Gives rows their [`ItemCodes`] by their views, one row after another: a view seen before
/// in the batch gets its code; a new one a new code and its row appended to `firsts`. A new
/// view is cached if the caller says it always is (a string of up to 12 bytes, whole in its
/// view), or while fewer than `cap` others are (long strings whose equal views are equal
/// strings, integers); past that each new row gets a code of its own.
struct ViewCoder<'f> {
    cache: ViewCache,
    firsts: &'f mut Vec<usize>,
    nulls: Option<&'f NullBuffer>,
    codes: Vec<u32>,
    /// Views cached that are not always cached.
    capped: usize,
    cap: usize,
}

impl<'f> ViewCoder<'f> {
    fn new(
        firsts: &'f mut Vec<usize>,
        nulls: Option<&'f NullBuffer>,
        cap: usize,
        rows: usize,
    ) -> Self {
        Self {
            cache: ViewCache::default(),
            firsts,
            nulls,
            codes: Vec::with_capacity(rows),
            capped: 0,
            cap,
        }
    }

    #[inline(always)]
    fn push(&mut self, row: usize, view: u128, always: bool) {
        let code = if self.nulls.is_some_and(|n| n.is_null(row)) {
            NULL_CODE
        } else {
            self.code(row, view, always)
        };
        self.codes.push(code);
    }

    #[inline(always)]
    fn code(&mut self, row: usize, view: u128, always: bool) -> u32 {
        match self.cache.get(view) {
            Some(code) => code,
            None => self.new_code(row, view, always),
        }
    }

    /// A code for a view not in the cache; rare, so kept out of the loop.
    #[cold]
    #[inline(never)]
    fn new_code(&mut self, row: usize, view: u128, always: bool) -> u32 {
        let code = self.firsts.len() as u32;
        self.firsts.push(row);
        if always {
            self.cache.insert(view, code);
        } else if self.capped < self.cap {
            self.capped += 1;
            self.cache.insert(view, code);
        }
        code
    }
}

/// Interns item values into dense ids in order of first appearance.
#[derive(Debug)]
pub enum ItemInterner {
    Text {
        ids: HashMap<Box<str>, u32>,
        names: Vec<Box<str>>,
    },
    Integer {
        ids: HashMap<i64, u32>,
        values: Vec<i64>,
        /// Ids of the integers `0..DIRECT`, `u32::MAX` when unseen: rater and small item ids
        /// are found by one array read.
        direct: Vec<u32>,
    },
}

/// Integers below this are looked up directly in an array.
const DIRECT: i64 = 4096;

impl ItemInterner {
    pub fn new(kind: ItemKind) -> Self {
        match kind {
            ItemKind::Text => ItemInterner::Text {
                ids: HashMap::default(),
                names: Vec::new(),
            },
            ItemKind::Integer => ItemInterner::Integer {
                ids: HashMap::default(),
                values: Vec::new(),
                direct: Vec::new(),
            },
        }
    }

    pub fn kind(&self) -> ItemKind {
        match self {
            ItemInterner::Text { .. } => ItemKind::Text,
            ItemInterner::Integer { .. } => ItemKind::Integer,
        }
    }

    pub fn len(&self) -> usize {
        match self {
            ItemInterner::Text { names, .. } => names.len(),
            ItemInterner::Integer { values, .. } => values.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The id of `item`, assigning the next id on first sight.
    ///
    /// Small dictionaries (raters, labels) are searched linearly, which beats hashing up to a
    /// dozen or so entries; larger ones use the hash map, which is always kept complete.
    #[inline]
    pub fn intern(&mut self, item: ItemRef) -> Result<u32> {
        match (self, item) {
            (ItemInterner::Text { ids, names }, ItemRef::Text(s)) => {
                if names.len() <= SMALL {
                    if let Some(id) = names.iter().position(|n| **n == *s) {
                        return Ok(id as u32);
                    }
                } else if let Some(&id) = ids.get(s) {
                    return Ok(id);
                }
                let id = names.len() as u32;
                names.push(s.into());
                ids.insert(s.into(), id);
                Ok(id)
            }
            (
                ItemInterner::Integer {
                    ids,
                    values,
                    direct,
                },
                ItemRef::Integer(v),
            ) => Ok(integer_id(ids, values, direct, v)),
            _ => internal_err!("item kinds of state and input differ"),
        }
    }

    /// The map, value list and direct table of an integer dictionary.
    #[allow(clippy::type_complexity)]
    fn integer_parts(&mut self) -> Result<(&mut HashMap<i64, u32>, &mut Vec<i64>, &mut Vec<u32>)> {
        match self {
            ItemInterner::Integer {
                ids,
                values,
                direct,
            } => Ok((ids, values, direct)),
            ItemInterner::Text { .. } => internal_err!("item kinds of state and input differ"),
        }
    }

    /// Ids for a column of integers, appended to `out`. A run of one value (a table stored
    /// grouped by item) costs one lookup.
    pub fn intern_integer_runs(&mut self, column: &[i64], out: &mut Vec<u32>) -> Result<()> {
        let (ids, values, direct) = self.integer_parts()?;
        out.reserve(column.len());
        let mut rest = column;
        while let Some(&v) = rest.first() {
            let run = rest.iter().position(|&x| x != v).unwrap_or(rest.len());
            let id = integer_id(ids, values, direct, v);
            out.extend(std::iter::repeat_n(id, run));
            rest = &rest[run..];
        }
        Ok(())
    }

    /// Ids for a column of integers, appended to `out`, each looked up on its own (a rater
    /// column, where neighbours differ).
    pub fn intern_integers(&mut self, column: &[i64], out: &mut Vec<u32>) -> Result<()> {
        let (ids, values, direct) = self.integer_parts()?;
        out.extend(column.iter().map(|&v| integer_id(ids, values, direct, v)));
        Ok(())
    }

    /// The item values for `ids`, in that order.
    pub fn take(&self, ids: impl Iterator<Item = usize>) -> ArrayRef {
        match self {
            ItemInterner::Text { names, .. } => {
                // Sized first: a grouped state or leaderboard writes millions of names, and
                // a growing builder would copy them and touch fresh pages at each doubling.
                let ids: Vec<usize> = ids.collect();
                let bytes = ids.iter().map(|&i| names[i].len()).sum();
                let mut b = StringBuilder::with_capacity(ids.len(), bytes);
                for i in ids {
                    b.append_value(&names[i]);
                }
                Arc::new(b.finish())
            }
            ItemInterner::Integer { values, .. } => {
                Arc::new(Int64Array::from_iter_values(ids.map(|i| values[i])))
            }
        }
    }

    /// All item values as an Arrow array, in id order.
    pub fn to_array(&self) -> ArrayRef {
        self.take(0..self.len())
    }

    /// The items `ids` name, dictionary-encoded: the ids are the keys, and every item's
    /// value is in the dictionary once. A partial state's items travel this way, so that
    /// cutting states, moving them between partitions and merging them copies and hashes
    /// each name once per state batch rather than once per group that saw it (read back
    /// with [`StateRows::keyed_items`](crate::state::StateRows::keyed_items)).
    pub fn keyed(&self, ids: Vec<u32>) -> ArrayRef {
        let keys = UInt32Array::from(ids);
        Arc::new(DictionaryArray::<UInt32Type>::new(keys, self.to_array()))
    }

    /// The type of [`ItemInterner::keyed`]'s arrays for items of type `item`.
    pub fn keyed_type(item: DataType) -> DataType {
        DataType::Dictionary(Box::new(DataType::UInt32), Box::new(item))
    }

    /// The id of the item written as `text` (an integer item as its decimal digits), if
    /// interned.
    pub fn find(&self, text: &str) -> Option<usize> {
        match self {
            ItemInterner::Text { ids, .. } => ids.get(text).map(|&id| id as usize),
            ItemInterner::Integer { values, .. } => {
                // Small integers live in the direct table, not the map: search the values.
                let v = text.parse::<i64>().ok()?;
                values.iter().position(|&x| x == v)
            }
        }
    }

    /// A readable name for an item, for error messages.
    pub fn display(&self, id: usize) -> String {
        match self {
            ItemInterner::Text { names, .. } => format!("'{}'", names[id]),
            ItemInterner::Integer { values, .. } => values[id].to_string(),
        }
    }

    /// Compare two items by value (text lexicographically, integers numerically).
    pub fn cmp(&self, a: usize, b: usize) -> std::cmp::Ordering {
        match self {
            ItemInterner::Text { names, .. } => names[a].cmp(&names[b]),
            ItemInterner::Integer { values, .. } => values[a].cmp(&values[b]),
        }
    }

    /// Ids for every value of `array` (a partial state's item list), interning new ones.
    pub fn intern_array(&mut self, array: &ArrayRef) -> Result<Vec<u32>> {
        let column = ItemColumn::new(array)?;
        (0..array.len())
            .map(|i| match column.get(i) {
                Some(v) => self.intern(v),
                None => internal_err!("NULL item in a partial state"),
            })
            .collect()
    }

    /// The ids sorted by item value: a numbering that does not depend on the order in
    /// which rows arrived.
    pub fn value_order(&self) -> Vec<usize> {
        match self {
            ItemInterner::Text { names, .. } => {
                let mut ids: Vec<usize> = (0..names.len()).collect();
                ids.sort_by(|&a, &b| names[a].cmp(&names[b]));
                ids
            }
            // Each value once: sorted with its id beside it (no indirect reads), by a sort
            // that finds the runs in which partitions' rows arrive.
            ItemInterner::Integer { values, .. } => {
                let mut pairs: Vec<(i64, u32)> = values
                    .iter()
                    .enumerate()
                    .map(|(i, &v)| (v, i as u32))
                    .collect();
                pairs.sort();
                pairs.into_iter().map(|(_, id)| id as usize).collect()
            }
        }
    }

    /// The position of each id in [`ItemInterner::value_order`].
    pub fn value_positions(&self) -> Vec<usize> {
        inverse(&self.value_order())
    }

    /// Ids sorted by `ratings` descending, equal ratings by item value, so that a
    /// leaderboard does not depend on the order rows arrived in.
    pub fn order_by_rating(&self, ratings: &[f64]) -> Vec<usize> {
        let position = self.value_positions();
        let mut order: Vec<usize> = (0..ratings.len()).collect();
        order.sort_by(|&i, &j| {
            ratings[j]
                .total_cmp(&ratings[i])
                .then(position[i].cmp(&position[j]))
        });
        order
    }

    /// Approximate heap size in bytes.
    pub fn heap_size(&self) -> usize {
        match self {
            ItemInterner::Text { names, .. } => {
                names.iter().map(|n| 2 * n.len() + 40).sum::<usize>()
            }
            ItemInterner::Integer { values, direct, .. } => {
                values.len() * 24 + direct.capacity() * 4
            }
        }
    }
}

#[cfg(test)]
mod view_tests {
    use super::*;
    use datafusion::arrow::array::StringViewArray;

    /// Ids and sameness through the views equal plain interning and plain comparison, for
    /// inline and long strings, equal strings behind different views, prefixes shared by
    /// different strings, NULLs, and several batches (whose views differ).
    #[test]
    fn item_readers_equal_plain_interning() {
        let names = [
            "a",
            "model-007",
            "model-012",
            "claude-3-opus-20240229",
            "claude-3-haiku-20240307",
            "gpt-4o-2024-05-13",
            "exactly12chr",
            "exactly12chs",
            "thirteen-char",
        ];
        let mut cached = ItemInterner::new(ItemKind::Text);
        let mut plain = ItemInterner::new(ItemKind::Text);
        for batch in 0..3usize {
            let column = |step: usize| -> ArrayRef {
                let values: Vec<Option<String>> = (0..300usize)
                    .map(|i| {
                        let k = (i * step + batch * 3) % (names.len() + 1);
                        names.get(k).map(|s| s.to_string())
                    })
                    .collect();
                // Each row's own copy of the text, so equal long strings have different views.
                Arc::new(StringViewArray::from(values))
            };
            let (x, y) = (column(7), column(3));
            let (plain_x, plain_y) = (ItemColumn::new(&x).unwrap(), ItemColumn::new(&y).unwrap());
            let mut reader_x = ItemReader::new(&x).unwrap();
            let reader_y = ItemReader::new(&y).unwrap();
            for row in 0..x.len() {
                assert_eq!(reader_x.is_valid(row), plain_x.get(row).is_some());
                let Some(item) = plain_x.get(row) else {
                    continue;
                };
                let id = reader_x.id(&mut cached, row).unwrap();
                assert_eq!(id, plain.intern(item).unwrap(), "batch {batch}, row {row}");
                if let Some(other) = plain_y.get(row) {
                    let same = ItemColumn::same(item, other);
                    assert_eq!(reader_x.same(&reader_y, row), same, "{item:?} {other:?}");
                }
            }
        }
        assert_eq!(cached.len(), names.len());
    }

    #[test]
    fn view_cache_finds_what_it_holds_as_it_grows() {
        let mut cache = ViewCache::default();
        let view = |i: u128| i.wrapping_mul(0x0123_4567_89ab_cdef_0011_2233_4455_6677) ^ (i << 64);
        for i in 0..5000u128 {
            assert_eq!(cache.get(view(i)), None);
            cache.insert(view(i), i as u32);
            if i % 97 == 0 {
                for j in 0..=i {
                    assert_eq!(cache.get(view(j)), Some(j as u32));
                }
            }
        }
    }
}

#[cfg(test)]
mod dictionary_tests {
    use super::*;
    use datafusion::arrow::array::{DictionaryArray, Int8Array};
    use datafusion::arrow::datatypes::Int8Type;

    /// A dictionary column reads as its values: NULL keys and NULL values are NULL items,
    /// and each value is interned once, when a row first uses it.
    #[test]
    fn dictionary_items_read_by_key() {
        let values: ArrayRef = Arc::new(StringArray::from(vec![
            Some("b"),
            None,
            Some("a"),
            Some("unused"),
        ]));
        let keys = Int8Array::from(vec![Some(2), Some(0), None, Some(1), Some(2), Some(0)]);
        let array: ArrayRef = Arc::new(DictionaryArray::<Int8Type>::try_new(keys, values).unwrap());
        let column = ItemColumn::new(&array).unwrap();
        let valid: Vec<bool> = (0..6).map(|row| column.is_valid(row)).collect();
        assert_eq!(valid, [true, true, false, false, true, true]);
        let mut items = ItemInterner::new(ItemKind::Text);
        let mut reader = ItemReader::new(&array).unwrap();
        let ids: Vec<u32> = [0, 1, 4, 5]
            .iter()
            .map(|&row| reader.id(&mut items, row).unwrap())
            .collect();
        assert_eq!(ids, [0, 1, 0, 1]);
        assert_eq!(
            items.len(),
            2,
            "'unused' and the NULL value are never interned"
        );
        let empty: ArrayRef = Arc::new(
            DictionaryArray::<Int8Type>::try_new(
                Int8Array::from(vec![None, None]),
                Arc::new(StringArray::from(Vec::<&str>::new())),
            )
            .unwrap(),
        );
        let column = ItemColumn::new(&empty).unwrap();
        assert!(!column.is_valid(0) && !column.is_valid(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{LargeStringArray, StringArray, StringViewArray};

    /// Views made for a plain string column are Arrow's own for strings of up to 12 bytes,
    /// and carry Arrow's length and prefix for longer ones; rows read through them get the
    /// ids the interner gives the text, and `same` agrees with string equality.
    #[test]
    fn made_views_are_arrows_where_they_are_compared() {
        let texts = [
            "",
            "a",
            "model-003",
            "model_a",
            "twelve bytes",
            "thirteen byte",
            "über-model-7",
            "a much longer model name",
            "a much longer model nam3",
            "tie (bothbad)",
            "a",
            "",
            "twelve bytes",
            "a much longer model name",
        ];
        let arrow = StringViewArray::from_iter_values(texts);
        let plain: ArrayRef = Arc::new(StringArray::from_iter_values(texts));
        let large: ArrayRef = Arc::new(LargeStringArray::from_iter_values(texts));
        for array in [&plain, &large] {
            let (made, long_ones_cached) = string_views(array).unwrap();
            assert!(!long_ones_cached);
            for (r, text) in texts.iter().enumerate() {
                let (ours, theirs) = (made[r], arrow.views()[r]);
                if text.len() <= 12 {
                    assert_eq!(ours, theirs, "{text:?}");
                } else {
                    assert_eq!(ours as u64, theirs as u64, "{text:?}");
                }
            }
            let mut items = ItemInterner::new(ItemKind::Text);
            let mut reader = ItemReader::new(array).unwrap();
            let other_array: ArrayRef =
                Arc::new(StringArray::from_iter_values(texts.iter().rev().copied()));
            let other = ItemReader::new(&other_array).unwrap();
            for (r, text) in texts.iter().enumerate() {
                let id = reader.id(&mut items, r).unwrap();
                assert_eq!(items.find(text), Some(id as usize), "{text:?}");
                let theirs = texts[texts.len() - 1 - r];
                assert_eq!(
                    reader.same(&other, r),
                    *text == theirs,
                    "{text:?} {theirs:?}"
                );
            }
            assert_eq!(items.len(), 10);
        }
    }
}

#[cfg(test)]
mod code_tests {
    use super::*;
    use datafusion::arrow::array::{
        DictionaryArray, Int64Array, LargeStringArray, StringArray, StringViewArray,
    };
    use datafusion::arrow::datatypes::Int32Type;
    use proptest::prelude::*;

    /// Names with inline and long strings, a shared 4-byte prefix and equal lengths, so that
    /// made views of long strings collide.
    const NAMES: [&str; 8] = [
        "a",
        "model-007",
        "exactly12chr",
        "exactly12chs",
        "thirteen-char",
        "thirteen-chas",
        "claude-3-opus-20240229",
        "",
    ];

    /// One column of `picks` (an index into [`NAMES`], or NULL) in the array type `kind`:
    /// 0 Utf8, 1 LargeUtf8, 2 Utf8View, 3 a dictionary of Utf8, 4 Int64.
    fn column(kind: u8, picks: &[Option<usize>]) -> ArrayRef {
        let text = || picks.iter().map(|p| p.map(|k| NAMES[k]));
        match kind {
            0 => Arc::new(text().collect::<StringArray>()),
            1 => Arc::new(text().collect::<LargeStringArray>()),
            2 => Arc::new(text().collect::<StringViewArray>()),
            3 => Arc::new(text().collect::<DictionaryArray<Int32Type>>()),
            _ => Arc::new(
                picks
                    .iter()
                    .map(|p| p.map(|k| k as i64 * 1_000_003 - 7))
                    .collect::<Int64Array>(),
            ),
        }
    }

    proptest! {
        /// Coding a column and interning codes equals interning each row's item as it is met:
        /// the same ids in the same order, NULL exactly where the row is NULL, and `same`
        /// equal to comparing the items, whether or not their ids are known yet.
        #[test]
        fn codes_intern_as_rows_do(
            kind in 0u8..5,
            rows in prop::collection::vec(
                (prop::option::weighted(0.9, 0..NAMES.len()), prop::option::weighted(0.9, 0..NAMES.len()), any::<bool>()),
                0..300,
            ),
        ) {
            let item_kind = if kind == 4 { ItemKind::Integer } else { ItemKind::Text };
            let (xs, ys): (Vec<_>, Vec<_>) = rows.iter().map(|&(x, y, _)| (x, y)).unzip();
            let (x, y) = (column(kind, &xs), column(kind, &ys));
            let (plain_x, plain_y) = (ItemColumn::new(&x).unwrap(), ItemColumn::new(&y).unwrap());
            let (mut code_x, mut code_y) = (ItemCodes::new(&x).unwrap(), ItemCodes::new(&y).unwrap());
            let mut coded = ItemInterner::new(item_kind);
            let mut plain = ItemInterner::new(item_kind);
            for (row, &(_, _, ask)) in rows.iter().enumerate() {
                let (cx, cy) = (code_x.codes[row], code_y.codes[row]);
                prop_assert_eq!(cx == NULL_CODE, plain_x.get(row).is_none());
                prop_assert_eq!(cy == NULL_CODE, plain_y.get(row).is_none());
                let (Some(ix), Some(iy)) = (plain_x.get(row), plain_y.get(row)) else {
                    continue;
                };
                prop_assert_eq!(code_x.same(cx, &code_y, cy), ItemColumn::same(ix, iy));
                // Only some rows ask for ids, as only counted rows do.
                if ask {
                    prop_assert_eq!(code_x.id(&mut coded, cx).unwrap(), plain.intern(ix).unwrap());
                    prop_assert_eq!(code_y.id(&mut coded, cy).unwrap(), plain.intern(iy).unwrap());
                    prop_assert_eq!(code_x.same(cx, &code_y, cy), ItemColumn::same(ix, iy));
                }
            }
            prop_assert_eq!(coded.len(), plain.len());
        }
    }
}
