//! [`cosine`]: cosine similarity of two embeddings.

/// Cosine similarity of `a` and `b`, computed in `f64`.
///
/// `None` when the lengths differ or either vector has zero length or zero norm: there is
/// no angle to speak of, and a silent `0.0` would read as "unrelated".
///
/// ```
/// use msao_agent::encoders::cosine;
/// assert_eq!(cosine(&[1.0, 0.0], &[2.0, 0.0]), Some(1.0));
/// assert_eq!(cosine(&[1.0, 0.0], &[0.0, 3.0]), Some(0.0));
/// assert_eq!(cosine(&[1.0], &[1.0, 2.0]), None);
/// ```
pub fn cosine(a: &[f32], b: &[f32]) -> Option<f32> {
    if a.len() != b.len() || a.is_empty() {
        return None;
    }
    let (mut dot, mut na, mut nb) = (0f64, 0f64, 0f64);
    for (x, y) in a.iter().zip(b) {
        let (x, y) = (f64::from(*x), f64::from(*y));
        dot += x * y;
        na += x * x;
        nb += y * y;
    }
    if na == 0.0 || nb == 0.0 {
        return None;
    }
    Some((dot / (na.sqrt() * nb.sqrt())) as f32)
}

#[cfg(test)]
mod tests {
    use super::cosine;

    #[test]
    fn degenerate_inputs_have_no_cosine() {
        assert_eq!(cosine(&[], &[]), None);
        assert_eq!(cosine(&[0.0, 0.0], &[1.0, 0.0]), None);
        let c = cosine(&[1.0, 1.0], &[-1.0, -1.0]).unwrap();
        assert!((c + 1.0).abs() < 1e-6);
    }
}
