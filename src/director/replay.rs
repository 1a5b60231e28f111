//! Recording a running director's input stream and replaying it against the core.
//!
//! `lbd --record FILE` writes one JSON object per line: first the [`Start`] with the effects
//! of start-up, then each input with its time, each followed by the effects it produced. A
//! replay builds a fresh director from the start line, feeds it every input at its recorded
//! time and compares what comes out with what was recorded, effect by effect, as JSON (so a
//! trace recorded by one build checks another). The director is deterministic: the same
//! inputs at the same times give the same effects.

use super::io::{Effect, Input, Now, Start};
use super::Director;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Write};

/// One line of a trace.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "line", rename_all = "snake_case")]
pub enum TraceLine {
    Start { now: Now, start: Box<Start> },
    Input { now: Now, input: Box<Input> },
    Effects { effects: Vec<Effect> },
}

/// Writes a trace.
pub struct Recorder<W: Write> {
    out: W,
}

impl<W: Write> Recorder<W> {
    pub fn new(out: W) -> Self {
        Recorder { out }
    }

    fn line(&mut self, line: &TraceLine) -> std::io::Result<()> {
        serde_json::to_writer(&mut self.out, line)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }

    /// The start line and the effects of start-up.
    pub fn start(&mut self, now: Now, start: &Start, effects: &[Effect]) -> std::io::Result<()> {
        self.line(&TraceLine::Start {
            now,
            start: Box::new(start.clone()),
        })?;
        self.effects(effects)
    }

    pub fn input(&mut self, now: Now, input: &Input) -> std::io::Result<()> {
        self.line(&TraceLine::Input {
            now,
            input: Box::new(input.clone()),
        })
    }

    pub fn effects(&mut self, effects: &[Effect]) -> std::io::Result<()> {
        self.line(&TraceLine::Effects {
            effects: effects.to_vec(),
        })
    }
}

/// How a replay went.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Replayed {
    /// Inputs fed (the start not counted).
    pub inputs: usize,
    /// Effects compared, start-up's included.
    pub effects: usize,
}

/// Why a replay failed.
#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("trace line {line}: {message}")]
    Malformed { line: usize, message: String },
    #[error(
        "trace line {line}: effect {index} differs:\n recorded: {recorded}\n replayed: {replayed}"
    )]
    Differs {
        line: usize,
        index: usize,
        recorded: String,
        replayed: String,
    },
    #[error("trace line {line}: {recorded} effect(s) recorded, {replayed} replayed; the first extra: {extra}")]
    Count {
        line: usize,
        recorded: usize,
        replayed: usize,
        extra: String,
    },
}

fn compare(line: usize, recorded: &[Effect], replayed: &[Effect]) -> Result<(), ReplayError> {
    let json = |e: &Effect| serde_json::to_value(e).unwrap_or_default();
    for (index, (a, b)) in recorded.iter().zip(replayed).enumerate() {
        let (a, b) = (json(a), json(b));
        if a != b {
            return Err(ReplayError::Differs {
                line,
                index,
                recorded: a.to_string(),
                replayed: b.to_string(),
            });
        }
    }
    if recorded.len() != replayed.len() {
        let extra = recorded
            .get(replayed.len())
            .or_else(|| replayed.get(recorded.len()))
            .map(|e| json(e).to_string())
            .unwrap_or_default();
        return Err(ReplayError::Count {
            line,
            recorded: recorded.len(),
            replayed: replayed.len(),
            extra,
        });
    }
    Ok(())
}

/// Replays the trace read from `input`; the director at the end, and how much was checked.
pub fn replay(input: impl BufRead) -> Result<(Director, Replayed), ReplayError> {
    let mut director: Option<Director> = None;
    let mut pending: Option<(usize, Vec<Effect>)> = None;
    let mut done = Replayed::default();
    for (i, text) in input.lines().enumerate() {
        let line = i + 1;
        let text = text.map_err(|e| ReplayError::Malformed {
            line,
            message: e.to_string(),
        })?;
        if text.trim().is_empty() {
            continue;
        }
        let parsed: TraceLine =
            serde_json::from_str(&text).map_err(|e| ReplayError::Malformed {
                line,
                message: e.to_string(),
            })?;
        match parsed {
            TraceLine::Start { now, start } => {
                if director.is_some() {
                    return Err(ReplayError::Malformed {
                        line,
                        message: "a second start line".into(),
                    });
                }
                let (d, effects) = Director::new(now, *start);
                director = Some(d);
                pending = Some((line, effects));
            }
            TraceLine::Input { now, input } => {
                let Some(d) = director.as_mut() else {
                    return Err(ReplayError::Malformed {
                        line,
                        message: "an input before the start line".into(),
                    });
                };
                if pending.is_some() {
                    return Err(ReplayError::Malformed {
                        line,
                        message: "an input where effects were expected".into(),
                    });
                }
                pending = Some((line, d.handle(now, *input)));
                done.inputs += 1;
            }
            TraceLine::Effects { effects } => {
                let Some((_, replayed)) = pending.take() else {
                    return Err(ReplayError::Malformed {
                        line,
                        message: "effects without an input".into(),
                    });
                };
                compare(line, &effects, &replayed)?;
                done.effects += effects.len();
            }
        }
    }
    match director {
        Some(d) => Ok((d, done)),
        None => Err(ReplayError::Malformed {
            line: 0,
            message: "no start line".into(),
        }),
    }
}
