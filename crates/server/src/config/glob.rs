//! Glob-style pattern matching for `CONFIG GET` (case-sensitive).
//!
//! * `*` matches any run of bytes (also empty), `?` exactly one byte;
//! * `[abc]`, `[a-z]` (a reversed range `[z-a]` works too) and `[^...]`
//!   match one byte from (or not from) the set; inside brackets `\x` is a
//!   literal `x`; a bracket left open at the end of the pattern closes there;
//! * `\x` outside brackets matches `x` literally; a trailing lone `\`
//!   matches a backslash.
//!
//! Matching runs in O(pattern × text) time whatever the pattern, so no
//! client pattern can make it slow.

/// One element of a compiled pattern.
#[derive(Debug, PartialEq, Eq)]
enum Token {
    /// `*`.
    Star,
    /// A single byte from a set (`?` is the negated empty set).
    Class { negate: bool, items: Vec<(u8, u8)> },
}

fn compile(pattern: &[u8]) -> Vec<Token> {
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < pattern.len() {
        match pattern[i] {
            b'*' => {
                if tokens.last() != Some(&Token::Star) {
                    tokens.push(Token::Star);
                }
                i += 1;
            }
            b'?' => {
                tokens.push(Token::Class {
                    negate: true,
                    items: Vec::new(),
                });
                i += 1;
            }
            b'[' => {
                i += 1;
                let mut negate = false;
                if i < pattern.len() && pattern[i] == b'^' {
                    negate = true;
                    i += 1;
                }
                let mut items = Vec::new();
                while i < pattern.len() && pattern[i] != b']' {
                    if pattern[i] == b'\\' && i + 1 < pattern.len() {
                        items.push((pattern[i + 1], pattern[i + 1]));
                        i += 2;
                    } else if i + 2 < pattern.len() && pattern[i + 1] == b'-' {
                        let (a, b) = (pattern[i], pattern[i + 2]);
                        items.push((a.min(b), a.max(b)));
                        i += 3;
                    } else {
                        items.push((pattern[i], pattern[i]));
                        i += 1;
                    }
                }
                // Skip the closing bracket, if any.
                i += 1;
                tokens.push(Token::Class { negate, items });
            }
            b'\\' if i + 1 < pattern.len() => {
                let c = pattern[i + 1];
                tokens.push(Token::Class {
                    negate: false,
                    items: vec![(c, c)],
                });
                i += 2;
            }
            c => {
                tokens.push(Token::Class {
                    negate: false,
                    items: vec![(c, c)],
                });
                i += 1;
            }
        }
    }
    tokens
}

fn class_matches(negate: bool, items: &[(u8, u8)], c: u8) -> bool {
    items.iter().any(|&(lo, hi)| lo <= c && c <= hi) != negate
}

/// True if `text` matches the glob `pattern`, case-sensitively.
pub fn glob_match(pattern: &[u8], text: &[u8]) -> bool {
    let tokens = compile(pattern);
    let (mut p, mut t) = (0usize, 0usize);
    // Position after the last `*` seen and the text position it resumes at.
    let mut backtrack: Option<(usize, usize)> = None;
    loop {
        if p < tokens.len() {
            match &tokens[p] {
                Token::Star => {
                    backtrack = Some((p + 1, t));
                    p += 1;
                    continue;
                }
                Token::Class { negate, items } => {
                    if t < text.len() && class_matches(*negate, items, text[t]) {
                        p += 1;
                        t += 1;
                        continue;
                    }
                }
            }
        } else if t == text.len() {
            return true;
        }
        // Mismatch: let the last star swallow one more byte.
        match backtrack {
            Some((sp, st)) if st < text.len() => {
                backtrack = Some((sp, st + 1));
                p = sp;
                t = st + 1;
            }
            _ => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    fn m(p: &str, t: &str) -> bool {
        glob_match(p.as_bytes(), t.as_bytes())
    }

    #[test]
    fn stars_and_questions() {
        assert!(m("*", ""));
        assert!(m("*", "maxmemory"));
        assert!(m("aof-*", "aof-load-truncated"));
        assert!(!m("aof-*", "appendonly"));
        assert!(m("*memory*", "maxmemory-policy"));
        assert!(m("max*y", "maxmemory"));
        assert!(m("max*y", "maxmemory-policy"));
        assert!(!m("max*y", "maxmemory-samples"));
        assert!(m("h?", "hz"));
        assert!(!m("h?", "h"));
        assert!(!m("h?", "hzz"));
        assert!(m("**a**", "a"));
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(m("a*b*c", "aXbYc"));
        assert!(!m("a*b*c", "aXbYd"));
    }

    #[test]
    fn case_sensitive() {
        assert!(!m("HZ", "hz"));
        assert!(!m("Max*", "maxmemory"));
    }

    #[test]
    fn classes() {
        assert!(m("[mh]*", "hz"));
        assert!(m("[mh]*", "maxclients"));
        assert!(!m("[mh]*", "port"));
        assert!(m("[^mh]*", "port"));
        assert!(!m("[^mh]*", "hz"));
        assert!(m("[a-c]*", "bind"));
        assert!(m("[c-a]*", "bind"));
        assert!(!m("[a-c]*", "dir"));
        assert!(m("[\\]]", "]"));
        assert!(m("[ab", "a"));
        assert!(!m("[ab", "c"));
        assert!(!m("[]", "]"));
    }

    #[test]
    fn escapes() {
        assert!(m("a\\*", "a*"));
        assert!(!m("a\\*", "ab"));
        assert!(m("a\\?", "a?"));
        assert!(m("a\\", "a\\"));
    }

    #[test]
    fn pathological_patterns_are_fast() {
        let pattern = "*a".repeat(2000) + "b";
        let text = "a".repeat(40);
        assert!(!m(&pattern, &text));
        let pattern = "*a".repeat(20);
        assert!(m(&pattern, &"a".repeat(40)));
    }
}
