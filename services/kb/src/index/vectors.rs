//! Pretrained English word vectors (GloVe 6B, 100 dimensions; `deploy/stack.sh` fetches and
//! converts them, `deploy/word_vectors.py` documents the file) — what lets the search see that
//! "throw away card" and "disposable card" mean the same. Loaded once per process and shared.
//!
//! The file, little-endian: the magic `HDWVEC01`; u32 dims, u32 count; f32[dims] the common
//! direction (the first principal component of the weighted vectors, removed from every sentence
//! vector because it only says "this is English"); count × (u16 length, UTF-8 word), most frequent
//! first; f32[count] the words' weights (rarer words weigh more); f32[count] scales; then the
//! vectors as i8[count × dims], each row times its scale.

use std::{
    collections::HashMap,
    path::{Path, PathBuf},
    sync::{Arc, Mutex},
};

const MAGIC: &[u8; 8] = b"HDWVEC01";

#[derive(Debug, thiserror::Error)]
pub enum VectorsError {
    #[error("cannot read the word vectors {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{path} is not a word-vectors file: {reason}")]
    Format { path: PathBuf, reason: &'static str },
}

pub struct WordVectors {
    dims: usize,
    ids: HashMap<Box<str>, u32>,
    common: Vec<f32>,
    weights: Vec<f32>,
    scales: Vec<f32>,
    values: Vec<i8>,
}

impl std::fmt::Debug for WordVectors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WordVectors({} words × {})", self.weights.len(), self.dims)
    }
}

/// Reads little-endian fields in order, `None` when the bytes end early (also used for the
/// meanings kept in the index, see `semantic`).
pub(super) struct Reader<'a> {
    pub bytes: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.bytes.split_at_checked(n)?;
        self.bytes = rest;
        Some(head)
    }

    pub fn u16(&mut self) -> Option<u16> {
        Some(u16::from_le_bytes(self.take(2)?.try_into().ok()?))
    }

    pub fn u32(&mut self) -> Option<u32> {
        Some(u32::from_le_bytes(self.take(4)?.try_into().ok()?))
    }

    pub fn f32s(&mut self, n: usize) -> Option<Vec<f32>> {
        self.words(n, f32::from_le_bytes)
    }

    pub fn u32s(&mut self, n: usize) -> Option<Vec<u32>> {
        self.words(n, u32::from_le_bytes)
    }

    fn words<T>(&mut self, n: usize, from: fn([u8; 4]) -> T) -> Option<Vec<T>> {
        let bytes = self.take(n.checked_mul(4)?)?;
        Some(bytes.chunks_exact(4).map(|b| from([b[0], b[1], b[2], b[3]])).collect())
    }
}

impl WordVectors {
    /// Loads `path` once per process: every kb instance in it shares the vectors.
    pub fn shared(path: &Path) -> Result<Arc<Self>, VectorsError> {
        static LOADED: Mutex<Vec<(PathBuf, Arc<WordVectors>)>> = Mutex::new(Vec::new());
        let mut loaded = LOADED.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some((_, vectors)) = loaded.iter().find(|(p, _)| p == path) {
            return Ok(vectors.clone());
        }
        let vectors = Arc::new(Self::load(path)?);
        loaded.push((path.to_path_buf(), vectors.clone()));
        Ok(vectors)
    }

    pub fn load(path: &Path) -> Result<Self, VectorsError> {
        let bytes = std::fs::read(path).map_err(|source| VectorsError::Read { path: path.into(), source })?;
        Self::parse(&bytes).map_err(|reason| VectorsError::Format { path: path.into(), reason })
    }

    fn parse(bytes: &[u8]) -> Result<Self, &'static str> {
        let mut r = Reader { bytes };
        if r.take(MAGIC.len()) != Some(MAGIC) {
            return Err("wrong magic");
        }
        let short = "the file ends early";
        let dims = r.u32().ok_or(short)? as usize;
        let count = r.u32().ok_or(short)? as usize;
        if dims == 0 || dims > 4096 {
            return Err("implausible dimensions");
        }
        let common = r.f32s(dims).ok_or(short)?;
        let mut ids = HashMap::with_capacity(count);
        for id in 0..count {
            let len = usize::from(r.u16().ok_or(short)?);
            let word = std::str::from_utf8(r.take(len).ok_or(short)?).map_err(|_| "a word is not UTF-8")?;
            // The first (most frequent) spelling wins.
            ids.entry(word.into()).or_insert(id as u32);
        }
        let weights = r.f32s(count).ok_or(short)?;
        let scales = r.f32s(count).ok_or(short)?;
        let values: Vec<i8> = r.take(count.checked_mul(dims).ok_or(short)?).ok_or(short)?.iter().map(|&b| b as i8).collect();
        if !r.bytes.is_empty() {
            return Err("trailing bytes");
        }
        if weights.iter().chain(&scales).chain(&common).any(|x| !x.is_finite()) {
            return Err("a number is not finite");
        }
        Ok(Self { dims, ids, common, weights, scales, values })
    }

    pub fn dims(&self) -> usize {
        self.dims
    }

    pub fn id(&self, word: &str) -> Option<u32> {
        self.ids.get(word).copied()
    }

    /// The word's vector, added into `out` times `factor`.
    pub fn add_to(&self, id: u32, factor: f32, out: &mut [f32]) {
        let id = id as usize;
        let scale = self.scales[id] * factor;
        let row = &self.values[id * self.dims..(id + 1) * self.dims];
        out.iter_mut().zip(row).for_each(|(o, &v)| *o += scale * f32::from(v));
    }

    /// The word's vector · `other`, without unpacking the word's vector.
    pub fn dot_word(&self, id: u32, other: &[f32]) -> f32 {
        let id = id as usize;
        let row = &self.values[id * self.dims..(id + 1) * self.dims];
        self.scales[id] * lanes_dot(row, other, |v| f32::from(*v))
    }

    pub fn vector(&self, id: u32) -> Vec<f32> {
        let mut out = vec![0.0; self.dims];
        self.add_to(id, 1.0, &mut out);
        out
    }

    /// A sentence's meaning: its words' vectors weighted by rarity, the common direction taken
    /// out, unit length. `None` when no word is known.
    pub fn sentence(&self, ids: impl IntoIterator<Item = u32>) -> Option<Vec<f32>> {
        let mut sum = vec![0.0; self.dims];
        let mut any = false;
        for id in ids {
            self.add_to(id, self.weights[id as usize], &mut sum);
            any = true;
        }
        if !any {
            return None;
        }
        let along = dot(&sum, &self.common);
        sum.iter_mut().zip(&self.common).for_each(|(s, c)| *s -= along * c);
        let norm = dot(&sum, &sum).sqrt();
        (norm > f32::EPSILON).then(|| sum.into_iter().map(|s| s / norm).collect())
    }
}

pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    lanes_dot(a, b, |x| *x)
}

/// Σ value(a[i]) · b[i], summed in eight independent lanes so that the compiler can vectorize it
/// (one running sum must add in order, which keeps it scalar). Dot products are most of the
/// meaning step's time.
fn lanes_dot<T>(a: &[T], b: &[f32], value: impl Fn(&T) -> f32) -> f32 {
    const LANES: usize = 8;
    let mut sums = [0.0f32; LANES];
    let (a_chunks, b_chunks) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: f32 = a_chunks.remainder().iter().zip(b_chunks.remainder()).map(|(x, y)| value(x) * y).sum();
    for (x, y) in a_chunks.zip(b_chunks) {
        for lane in 0..LANES {
            sums[lane] += value(&x[lane]) * y[lane];
        }
    }
    sums.iter().sum::<f32>() + tail
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A small vectors file: `words` with the given vectors, weights 1, no common direction.
    pub fn file(words: &[(&str, Vec<f32>)]) -> Vec<u8> {
        let dims = words[0].1.len();
        let mut out = MAGIC.to_vec();
        out.extend((dims as u32).to_le_bytes());
        out.extend((words.len() as u32).to_le_bytes());
        out.extend(std::iter::repeat_n(0f32.to_le_bytes(), dims).flatten());
        for (word, _) in words {
            out.extend((word.len() as u16).to_le_bytes());
            out.extend(word.as_bytes());
        }
        out.extend(std::iter::repeat_n(1f32.to_le_bytes(), words.len()).flatten());
        let scales: Vec<f32> = words.iter().map(|(_, v)| v.iter().fold(0f32, |m, x| m.max(x.abs())) / 127.0).collect();
        out.extend(scales.iter().flat_map(|s| s.to_le_bytes()));
        for ((_, vector), scale) in words.iter().zip(&scales) {
            out.extend(vector.iter().map(|x| (x / scale).round() as i8 as u8));
        }
        out
    }

    pub fn parse(bytes: &[u8]) -> WordVectors {
        WordVectors::parse(bytes).expect("a valid vectors file")
    }

    #[test]
    fn vectors_round_trip_through_the_file() {
        let vectors = parse(&file(&[("card", vec![1.0, -0.5, 0.25]), ("refund", vec![0.0, 2.0, -2.0])]));
        assert_eq!(vectors.dims(), 3);
        let card = vectors.vector(vectors.id("card").expect("card"));
        assert!(card.iter().zip([1.0, -0.5, 0.25]).all(|(a, b)| (a - b).abs() < 0.01), "{card:?}");
        assert_eq!(vectors.id("unknown"), None);
    }

    #[test]
    fn a_sentence_vector_has_unit_length_and_none_without_known_words() {
        let vectors = parse(&file(&[("card", vec![3.0, 0.0]), ("refund", vec![0.0, 4.0])]));
        let meaning = vectors.sentence([0, 1]).expect("known words");
        assert!((dot(&meaning, &meaning) - 1.0).abs() < 1e-5);
        assert_eq!(vectors.sentence([]), None);
    }

    #[test]
    fn a_missing_file_names_its_path() {
        let error = WordVectors::load(Path::new("/nonexistent/vectors.hdwv")).expect_err("refused");
        assert!(error.to_string().contains("/nonexistent/vectors.hdwv"), "{error}");
    }

    #[test]
    fn a_broken_file_is_refused_with_a_reason() {
        let good = file(&[("card", vec![1.0, 2.0])]);
        assert_eq!(WordVectors::parse(b"nonsense").expect_err("refused"), "wrong magic");
        assert_eq!(WordVectors::parse(&good[..good.len() - 1]).expect_err("refused"), "the file ends early");
        let mut long = good.clone();
        long.push(0);
        assert_eq!(WordVectors::parse(&long).expect_err("refused"), "trailing bytes");
    }
}
