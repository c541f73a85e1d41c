//! Training data in the formats 0G's fine-tuning docs use: JSONL (or one JSON array) of
//! `{"instruction", "input"?, "output"}`, `{"messages": [... , {"role": "assistant", ...}]}` or
//! `{"prompt", "completion"}`; each example becomes a chat prompt and the answer to learn.

use serde_json::Value;

use crate::compute::backend::ChatMessage;
use crate::compute::backend::llama::ModelFiles;

/// Most examples one dataset may hold, and the longest example.
pub const MAX_EXAMPLES: usize = 100_000;
pub const MAX_EXAMPLE_BYTES: usize = 64 << 10;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Example {
    pub messages: Vec<ChatMessage>,
    pub answer: String,
}

/// An example as tokens: the prompt's, then the answer's (ended by the model's stop token).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenizedExample {
    pub tokens: Vec<u32>,
    /// Where the answer starts: the loss covers `tokens[answer_from..]`.
    pub answer_from: usize,
}

fn text(value: &Value, field: &str, at: &str) -> Result<String, String> {
    value[field].as_str().map(str::to_string).ok_or_else(|| format!("{at}: `{field}` must be a string"))
}

fn example(value: &Value, at: &str) -> Result<Example, String> {
    if !value.is_object() {
        return Err(format!("{at}: not a JSON object"));
    }
    if let Some(messages) = value.get("messages") {
        let messages = messages.as_array().filter(|m| m.len() >= 2).ok_or_else(|| format!("{at}: `messages` must hold a prompt and the answer"))?;
        let mut parsed = Vec::with_capacity(messages.len());
        for (i, message) in messages.iter().enumerate() {
            parsed.push(ChatMessage { role: text(message, "role", &format!("{at} messages[{i}]"))?, content: text(message, "content", &format!("{at} messages[{i}]"))? });
        }
        let answer = parsed.pop().filter(|last| last.role == "assistant").ok_or_else(|| format!("{at}: the last message must be the assistant's answer"))?;
        return Ok(Example { messages: parsed, answer: answer.content });
    }
    if value.get("instruction").is_some() {
        let instruction = text(value, "instruction", at)?;
        let input = value.get("input").and_then(Value::as_str).unwrap_or_default();
        let content = if input.is_empty() { instruction } else { format!("{instruction}\n\n{input}") };
        return Ok(Example { messages: vec![ChatMessage { role: "user".into(), content }], answer: text(value, "output", at)? });
    }
    if value.get("prompt").is_some() {
        return Ok(Example { messages: vec![ChatMessage { role: "user".into(), content: text(value, "prompt", at)? }], answer: text(value, "completion", at)? });
    }
    Err(format!("{at}: expected `messages`, `instruction`/`output` or `prompt`/`completion`"))
}

/// Parses a dataset file; every mistake names its line (or array index).
pub fn parse(bytes: &[u8]) -> Result<Vec<Example>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("the dataset is not UTF-8 ({e})"))?;
    let trimmed = text.trim_start();
    let values: Vec<(String, Value)> = if trimmed.starts_with('[') {
        let array: Vec<Value> = serde_json::from_str(trimmed).map_err(|e| format!("the dataset is not a JSON array: {e}"))?;
        array.into_iter().enumerate().map(|(i, v)| (format!("example {i}"), v)).collect()
    } else {
        let mut out = Vec::new();
        for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            if line.len() > MAX_EXAMPLE_BYTES {
                return Err(format!("line {}: longer than {MAX_EXAMPLE_BYTES} bytes", n + 1));
            }
            out.push((format!("line {}", n + 1), serde_json::from_str(line).map_err(|e| format!("line {}: not JSON ({e})", n + 1))?));
            if out.len() > MAX_EXAMPLES {
                return Err(format!("more than {MAX_EXAMPLES} examples"));
            }
        }
        out
    };
    if values.is_empty() {
        return Err("the dataset holds no examples".into());
    }
    if values.len() > MAX_EXAMPLES {
        return Err(format!("more than {MAX_EXAMPLES} examples"));
    }
    values.iter().map(|(at, value)| example(value, at)).collect()
}

/// Tokenizes examples for `files`' model, keeping at most `max_len` tokens of each; examples
/// whose prompt alone fills that are left out (how many is returned too).
pub fn tokenize(files: &ModelFiles, examples: &[Example], max_len: usize) -> (Vec<TokenizedExample>, usize) {
    let end = files.stop_tokens().first().copied();
    let mut skipped = 0;
    let out = examples
        .iter()
        .filter_map(|example| {
            let mut tokens = files.tokenizer.encode(&files.prompt(&example.messages));
            let answer_from = tokens.len();
            if answer_from + 1 >= max_len {
                skipped += 1;
                return None;
            }
            tokens.extend(files.tokenizer.encode(&example.answer));
            tokens.extend(end);
            tokens.truncate(max_len);
            (tokens.len() > answer_from).then_some(TokenizedExample { tokens, answer_from })
        })
        .collect();
    (out, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_three_formats_read_and_mistakes_name_their_line() {
        let jsonl = concat!(
            r#"{"instruction": "Name the chain.", "input": "", "output": "0G"}"#, "\n",
            r#"{"instruction": "Add", "input": "2 and 2", "output": "4"}"#, "\n\n",
            r#"{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}"#, "\n",
            r#"{"prompt": "Ping", "completion": "Pong"}"#, "\n",
        );
        let examples = parse(jsonl.as_bytes()).unwrap();
        assert_eq!(examples.len(), 4);
        assert_eq!(examples[1].messages[0].content, "Add\n\n2 and 2");
        assert_eq!((examples[2].messages.len(), examples[2].answer.as_str()), (2, "Hello"));
        assert_eq!(parse(br#"[{"prompt": "a", "completion": "b"}]"#).unwrap().len(), 1);
        for (bad, why) in [
            (&b""[..], "no examples"),
            (b"{\"prompt\": \"a\"}\n", "line 1: `completion`"),
            (b"{\"prompt\": \"a\", \"completion\": \"b\"}\nnot json", "line 2: not JSON"),
            (br#"{"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]}"#, "assistant's answer"),
            (br#"{"text": "x"}"#, "expected"),
            (b"\xff\xfe", "UTF-8"),
            (br#"[1]"#, "not a JSON object"),
        ] {
            let error = parse(bad).unwrap_err();
            assert!(error.contains(why), "{error}");
        }
        let long = format!("{{\"prompt\": \"{}\", \"completion\": \"b\"}}", "a".repeat(MAX_EXAMPLE_BYTES));
        assert!(parse(long.as_bytes()).unwrap_err().contains("longer than"));
    }
}
