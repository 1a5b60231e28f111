//! Splitting a logical line into tokens: words, `{` and `}`. Quotes (`"` or `'`) may start
//! anywhere in a word and keep whitespace and braces; they are removed, and escapes inside
//! them (`\n`, `\t`, `\\`, `\"`, ...) resolved, as keepalived.conf(5) "Quoted strings" says.
//! A `${...}` left over from substitution (an undefined parameter) stays one word.

use super::pos::{Error, ErrorKind, Pos};
use super::preprocess::Line;

/// A token and the column it starts at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Token {
    Word { text: String, at: Pos },
    Open(Pos),
    Close(Pos),
}

/// The tokens of one line.
pub fn tokens(line: &Line) -> Result<Vec<Token>, Error> {
    let chars: Vec<char> = line.text.chars().collect();
    let col = |i: usize| {
        line.at
            .at_column(line.indent + u32::try_from(i + 1).unwrap_or(0))
    };
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c.is_whitespace() {
            i += 1;
            continue;
        }
        match c {
            '{' => {
                out.push(Token::Open(col(i)));
                i += 1;
                continue;
            }
            '}' => {
                out.push(Token::Close(col(i)));
                i += 1;
                continue;
            }
            _ => {}
        }
        let start = i;
        let mut text = String::new();
        while i < chars.len() {
            let c = chars[i];
            if c.is_whitespace() || c == '{' || c == '}' {
                break;
            }
            if c == '"' || c == '\'' {
                let open = i;
                i += 1;
                loop {
                    let Some(&q) = chars.get(i) else {
                        return Err(Error::new(col(open), ErrorKind::UnterminatedQuote));
                    };
                    i += 1;
                    if q == c {
                        break;
                    }
                    if q == '\\' {
                        let Some(&e) = chars.get(i) else {
                            return Err(Error::new(col(open), ErrorKind::UnterminatedQuote));
                        };
                        i += 1;
                        text.push(match e {
                            'n' => '\n',
                            't' => '\t',
                            'r' => '\r',
                            other => other,
                        });
                    } else {
                        text.push(q);
                    }
                }
                continue;
            }
            if c == '$' && chars.get(i + 1) == Some(&'{') {
                if let Some(end) = chars[i..].iter().position(|&x| x == '}') {
                    text.extend(&chars[i..=i + end]);
                    i += end + 1;
                    continue;
                }
            }
            text.push(c);
            i += 1;
        }
        out.push(Token::Word {
            text,
            at: col(start),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::sync::Arc;

    fn words(text: &str) -> Vec<String> {
        let line = Line {
            at: Pos {
                file: Arc::from(Path::new("k.conf")),
                line: 1,
                column: 0,
            },
            indent: 0,
            text: text.to_string(),
        };
        tokens(&line)
            .unwrap()
            .into_iter()
            .map(|t| match t {
                Token::Word { text, .. } => text,
                Token::Open(_) => "{".into(),
                Token::Close(_) => "}".into(),
            })
            .collect()
    }

    #[test]
    fn quotes_join_and_keep_spaces() {
        assert_eq!(
            words(r#"abcd" efg h jkl "mnop"#),
            vec!["abcd efg h jkl mnop"]
        );
        assert_eq!(
            words(r#"abcd "efg h jkl" mnop"#),
            vec!["abcd", "efg h jkl", "mnop"]
        );
        assert_eq!(
            words(r#"misc_path "/bin/check -p 80 \"x\"""#),
            vec!["misc_path", "/bin/check -p 80 \"x\""]
        );
        assert_eq!(words("script '/a b' x"), vec!["script", "/a b", "x"]);
    }

    #[test]
    fn braces_are_tokens_of_their_own() {
        assert_eq!(
            words("real_server 192.0.2.1 80 { weight 2 }"),
            vec!["real_server", "192.0.2.1", "80", "{", "weight", "2", "}"]
        );
        assert_eq!(words("url{"), vec!["url", "{"]);
        assert_eq!(words("x ${UNDEF} \"{\""), vec!["x", "${UNDEF}", "{"]);
    }

    #[test]
    fn columns_count_from_one() {
        let line = Line {
            at: Pos {
                file: Arc::from(Path::new("k.conf")),
                line: 4,
                column: 0,
            },
            indent: 4,
            text: "weight 3".into(),
        };
        let t = tokens(&line).unwrap();
        assert_eq!(
            t[1],
            Token::Word {
                text: "3".into(),
                at: line.at.at_column(12)
            }
        );
    }
}
