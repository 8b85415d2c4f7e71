//! SQL `LIKE` semantics: `%` any run of characters, `_` one character, no escape.

/// Case-sensitive `LIKE`.
pub fn like(value: &str, pattern: &str) -> bool {
    let v: Vec<char> = value.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    matches(&v, &p)
}

/// Case-insensitive `ILIKE` (Unicode lowercase on both sides).
pub fn ilike(value: &str, pattern: &str) -> bool {
    like(&value.to_lowercase(), &pattern.to_lowercase())
}

fn matches(v: &[char], p: &[char]) -> bool {
    // Iterative wildcard matching with backtracking to the last `%`.
    let (mut vi, mut pi) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while vi < v.len() {
        if pi < p.len() && (p[pi] == '_' || (p[pi] != '%' && p[pi] == v[vi])) {
            vi += 1;
            pi += 1;
        } else if pi < p.len() && p[pi] == '%' {
            star = Some((pi, vi));
            pi += 1;
        } else if let Some((sp, sv)) = star {
            pi = sp + 1;
            vi = sv + 1;
            star = Some((sp, sv + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '%' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards() {
        assert!(like("hello", "h%o"));
        assert!(like("hello", "%"));
        assert!(like("", "%"));
        assert!(like("hello", "h_llo"));
        assert!(!like("hello", "H%"));
        assert!(ilike("hello", "H%"));
        assert!(like("a%b", "a%b"));
        assert!(!like("abc", "a_"));
        assert!(like("abcbc", "%bc"));
        assert!(!like("ab", "abc%"));
    }
}
