//! keepalived's block structure: a keyword with its arguments, and optionally a `{ ... }`
//! block of further statements. One statement per line (a `{` may open on the next line);
//! a `}` may share a line with statements, so `real_server 192.0.2.1 80 { weight 2 }`
//! works as keepalived 2 reads it. Braces must balance: a stray `}` or a block still open at
//! the end is an error naming the position.

use super::lex::{tokens, Token};
use super::pos::{Error, ErrorKind, Pos};
use super::preprocess::Line;

/// One word of a statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Arg {
    pub text: String,
    pub at: Pos,
}

/// A statement: `keyword args... [{ block }]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node {
    pub keyword: String,
    pub at: Pos,
    pub args: Vec<Arg>,
    pub block: Option<Vec<Node>>,
    /// The line of the block's `}` (the keyword's line without a block).
    pub end_line: u32,
}

impl Node {
    /// The text of argument `i`.
    pub fn arg(&self, i: usize) -> Option<&str> {
        self.args.get(i).map(|a| a.text.as_str())
    }

    /// The statements of the block (none without a block).
    pub fn children(&self) -> &[Node] {
        self.block.as_deref().unwrap_or(&[])
    }

    /// The position of argument `i`, else of the keyword.
    pub fn arg_at(&self, i: usize) -> &Pos {
        self.args.get(i).map_or(&self.at, |a| &a.at)
    }

    /// The last line this statement (with its block) reaches.
    pub fn last_line(&self) -> u32 {
        self.end_line.max(self.at.line)
    }
}

/// keepalived's deepest blocks (url in a checker in a real server in a virtual server) are 4
/// deep; this bounds what a hostile file can make the importer hold.
const MAX_NESTING: usize = 64;

/// Builds the statement tree of the whole configuration.
pub fn parse(lines: &[Line]) -> Result<Vec<Node>, Error> {
    // Open blocks: the statements collected so far, and the `{` that opened them.
    let mut stack: Vec<(Vec<Node>, Pos)> = Vec::new();
    let mut top: Vec<Node> = Vec::new();
    for line in lines {
        // Whether the last node of the current level was started on this line.
        let mut statement_open = false;
        for token in tokens(line)? {
            let level = match stack.last_mut() {
                Some((nodes, _)) => nodes,
                None => &mut top,
            };
            match token {
                Token::Word { text, at } => {
                    if statement_open {
                        if let Some(n) = level.last_mut() {
                            n.args.push(Arg { text, at });
                            continue;
                        }
                    }
                    level.push(Node {
                        end_line: at.line,
                        keyword: text,
                        at,
                        args: Vec::new(),
                        block: None,
                    });
                    statement_open = true;
                }
                Token::Open(at) => {
                    match level.last() {
                        Some(n) if n.block.is_none() => {}
                        _ => return Err(Error::new(at, ErrorKind::OpenWithoutKeyword)),
                    }
                    if stack.len() >= MAX_NESTING {
                        return Err(Error::new(at, ErrorKind::TooDeep));
                    }
                    stack.push((Vec::new(), at));
                    statement_open = false;
                }
                Token::Close(at) => {
                    let Some((nodes, _)) = stack.pop() else {
                        return Err(Error::new(at, ErrorKind::UnbalancedClose));
                    };
                    let level = match stack.last_mut() {
                        Some((n, _)) => n,
                        None => &mut top,
                    };
                    if let Some(owner) = level.last_mut() {
                        owner.block = Some(nodes);
                        owner.end_line = at.line;
                    }
                    statement_open = false;
                }
            }
        }
    }
    if let Some((_, at)) = stack.last() {
        return Err(Error::new(
            at.clone(),
            ErrorKind::UnclosedBlock(stack.len()),
        ));
    }
    Ok(top)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::sync::Arc;

    fn lines(text: &str) -> Vec<Line> {
        text.lines()
            .enumerate()
            .filter(|(_, t)| !t.trim().is_empty())
            .map(|(i, t)| Line {
                at: Pos {
                    file: Arc::from(Path::new("k.conf")),
                    line: i as u32 + 1,
                    column: 0,
                },
                indent: 0,
                text: t.to_string(),
            })
            .collect()
    }

    fn shape(nodes: &[Node]) -> String {
        nodes
            .iter()
            .map(|n| {
                let mut s = n.keyword.clone();
                for a in &n.args {
                    s.push(' ');
                    s.push_str(&a.text);
                }
                if let Some(b) = &n.block {
                    s.push_str(&format!(" [{}]", shape(b)));
                }
                s
            })
            .collect::<Vec<_>>()
            .join("; ")
    }

    #[test]
    fn blocks_nest_with_braces_on_the_same_or_next_line() {
        let t = parse(&lines(
            "virtual_server 192.0.2.10 80 {\n  lb_algo rr\n  real_server 198.51.100.1 80 { weight 2 }\n  real_server 198.51.100.2 80\n  {\n    TCP_CHECK { connect_timeout 3 }\n  }\n}\nglobal_defs { router_id d1 }\n",
        ))
        .unwrap();
        assert_eq!(
            shape(&t),
            "virtual_server 192.0.2.10 80 [lb_algo rr; real_server 198.51.100.1 80 [weight 2]; \
             real_server 198.51.100.2 80 [TCP_CHECK [connect_timeout 3]]]; global_defs [router_id d1]"
        );
        assert_eq!(t[0].last_line(), 8);
    }

    #[test]
    fn unbalanced_braces_name_their_position() {
        let e = parse(&lines("a {\n}\n}\n")).unwrap_err();
        assert_eq!(e.to_string(), "k.conf:3:1: `}` closes no block");
        let e = parse(&lines("a {\n b {\n  c 1\n}\n")).unwrap_err();
        assert_eq!(
            e.to_string(),
            "k.conf:1:3: block opened here is not closed (1 unclosed at the end of the configuration)"
        );
        let e = parse(&lines("a { }\n{\n")).unwrap_err();
        assert_eq!(e.to_string(), "k.conf:2:1: `{` follows no keyword");
    }
}
