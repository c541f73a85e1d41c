//! Byte-level BPE from a Hugging Face `tokenizer.json` (the GPT-2 byte alphabet: Llama 3,
//! SmolLM, Qwen2 and the generated tiny model use it). Pre-tokenization splits runs of letters,
//! digits, other symbols and whitespace, each with its leading space — the shape of GPT-2's
//! pattern, not every detail of each model's regex, so a real model may see a slightly
//! different (still valid) split of unusual text.

use std::collections::HashMap;

#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    #[error("tokenizer.json is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("tokenizer.json: {0}")]
    Unsupported(String),
}

pub struct Tokenizer {
    vocab: HashMap<String, u32>,
    pieces: Vec<String>,
    merge_ranks: HashMap<(String, String), usize>,
    /// Added tokens (`<|eot_id|>` …), matched in text before BPE, longest first.
    specials: Vec<(String, u32)>,
    byte_to_char: [char; 256],
    char_to_byte: HashMap<char, u8>,
}

/// GPT-2's printable stand-ins for the 256 byte values.
pub(super) fn byte_alphabet() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next = 256u32;
    for byte in 0..=255u8 {
        let printable = matches!(byte, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        table[byte as usize] = if printable {
            char::from(byte)
        } else {
            next += 1;
            char::from_u32(next - 1).unwrap_or('\0')
        };
    }
    table
}

#[derive(serde::Deserialize)]
struct TokenizerFile {
    model: BpeModel,
    #[serde(default)]
    added_tokens: Vec<AddedToken>,
}

#[derive(serde::Deserialize)]
struct BpeModel {
    #[serde(rename = "type")]
    kind: Option<String>,
    vocab: HashMap<String, u32>,
    #[serde(default)]
    merges: Vec<Merge>,
}

#[derive(serde::Deserialize)]
#[serde(untagged)]
enum Merge {
    Joined(String),
    Pair(String, String),
}

#[derive(serde::Deserialize)]
struct AddedToken {
    id: u32,
    content: String,
}

impl Tokenizer {
    pub fn from_json(text: &str) -> Result<Self, TokenizerError> {
        let file: TokenizerFile = serde_json::from_str(text)?;
        if file.model.kind.as_deref().is_some_and(|k| k != "BPE") {
            return Err(TokenizerError::Unsupported(format!("model type {:?}; only byte-level BPE is supported", file.model.kind)));
        }
        let mut vocab = file.model.vocab;
        for added in &file.added_tokens {
            vocab.insert(added.content.clone(), added.id);
        }
        let size = vocab.values().max().map_or(0, |m| *m as usize + 1);
        if size > 1 << 20 {
            return Err(TokenizerError::Unsupported(format!("token id {size} is beyond any real vocabulary")));
        }
        let mut pieces = vec![String::new(); size];
        for (piece, id) in &vocab {
            pieces[*id as usize] = piece.clone();
        }
        let byte_to_char = byte_alphabet();
        let char_to_byte = byte_to_char.iter().enumerate().map(|(b, c)| (*c, b as u8)).collect();
        if let Some(missing) = byte_to_char.iter().find(|c| !vocab.contains_key(&c.to_string())) {
            return Err(TokenizerError::Unsupported(format!("the vocabulary lacks the byte token {missing:?}: not a byte-level BPE")));
        }
        let merge_ranks = file
            .model
            .merges
            .into_iter()
            .enumerate()
            .filter_map(|(rank, merge)| {
                let (a, b) = match merge {
                    Merge::Pair(a, b) => (a, b),
                    Merge::Joined(joined) => {
                        let (a, b) = joined.split_once(' ')?;
                        (a.to_string(), b.to_string())
                    }
                };
                Some(((a, b), rank))
            })
            .collect();
        let mut specials: Vec<(String, u32)> = file.added_tokens.into_iter().map(|t| (t.content, t.id)).collect();
        specials.sort_by_key(|(content, _)| std::cmp::Reverse(content.len()));
        Ok(Self { vocab, pieces, merge_ranks, specials, byte_to_char, char_to_byte })
    }

    pub fn vocab_size(&self) -> usize {
        self.pieces.len()
    }

    pub fn token_id(&self, piece: &str) -> Option<u32> {
        self.vocab.get(piece).copied()
    }

    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            let next_special = self
                .specials
                .iter()
                .filter_map(|(content, id)| (!content.is_empty()).then(|| rest.find(content.as_str()).map(|at| (at, content.len(), *id))).flatten())
                .min_by_key(|(at, len, _)| (*at, std::cmp::Reverse(*len)));
            let (plain, special) = match next_special {
                Some((at, len, id)) => (&rest[..at], Some((id, at + len))),
                None => (rest, None),
            };
            for word in pre_tokenize(plain) {
                self.encode_word(word, &mut out);
            }
            match special {
                Some((id, end)) => {
                    out.push(id);
                    rest = &rest[end..];
                }
                None => break,
            }
        }
        out
    }

    fn encode_word(&self, word: &str, out: &mut Vec<u32>) {
        let mut parts: Vec<String> = word.bytes().map(|b| self.byte_to_char[b as usize].to_string()).collect();
        loop {
            let best = parts
                .windows(2)
                .enumerate()
                .filter_map(|(i, pair)| self.merge_ranks.get(&(pair[0].clone(), pair[1].clone())).map(|rank| (*rank, i)))
                .min();
            let Some((_, at)) = best else { break };
            let right = parts.remove(at + 1);
            parts[at].push_str(&right);
        }
        // Every single byte is in the vocabulary (checked at load), and a merge's result is a
        // vocabulary entry in any well-formed file; fall back to bytes if not.
        for part in parts {
            match self.vocab.get(&part) {
                Some(id) => out.push(*id),
                None => out.extend(part.chars().filter_map(|c| self.vocab.get(&c.to_string()).copied())),
            }
        }
    }

    /// The bytes a token stands for (special tokens: their text).
    pub fn token_bytes(&self, id: u32) -> Vec<u8> {
        let Some(piece) = self.pieces.get(id as usize) else { return Vec::new() };
        if self.specials.iter().any(|(_, special)| *special == id) {
            return piece.as_bytes().to_vec();
        }
        piece.chars().map(|c| self.char_to_byte.get(&c).copied().unwrap_or(b'?')).collect()
    }

    pub fn decode(&self, ids: &[u32]) -> String {
        String::from_utf8_lossy(&ids.iter().flat_map(|id| self.token_bytes(*id)).collect::<Vec<u8>>()).into_owned()
    }
}

/// Splits text GPT-2 style: a run of letters, of digits, of other symbols, each taking one
/// leading space; whitespace runs stay on their own.
fn pre_tokenize(text: &str) -> Vec<&str> {
    #[derive(PartialEq, Clone, Copy)]
    enum Class {
        Letter,
        Digit,
        Space,
        Other,
    }
    let class = |c: char| {
        if c.is_alphabetic() {
            Class::Letter
        } else if c.is_numeric() {
            Class::Digit
        } else if c.is_whitespace() {
            Class::Space
        } else {
            Class::Other
        }
    };
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let mut words = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let at = chars[i].0;
        let leads = |k: usize| chars[k].1 == ' ' && chars.get(k + 1).is_some_and(|(_, n)| class(*n) != Class::Space);
        let first = if leads(i) { i + 1 } else { i };
        let kind = class(chars[first].1);
        let mut end = first + 1;
        // A whitespace run leaves its last space to lead the word after it.
        while end < chars.len() && class(chars[end].1) == kind && !(kind == Class::Space && leads(end)) {
            end += 1;
        }
        words.push(&text[at..chars.get(end).map_or(text.len(), |(at, _)| *at)]);
        i = end;
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn byte_vocab_with(merges: &[(&str, &str)]) -> String {
        let alphabet = byte_alphabet();
        let mut vocab: serde_json::Map<String, serde_json::Value> = alphabet.iter().enumerate().map(|(i, c)| (c.to_string(), i.into())).collect();
        for (i, (a, b)) in merges.iter().enumerate() {
            vocab.insert(format!("{a}{b}"), (256 + i).into());
        }
        let merges: Vec<String> = merges.iter().map(|(a, b)| format!("{a} {b}")).collect();
        serde_json::json!({"model": {"type": "BPE", "vocab": vocab, "merges": merges},
            "added_tokens": [{"id": 300, "content": "<|eot|>"}]})
        .to_string()
    }

    #[test]
    fn merges_apply_by_rank_and_specials_are_one_token() {
        let tokenizer = Tokenizer::from_json(&byte_vocab_with(&[("h", "e"), ("l", "l"), ("he", "ll"), ("Ġ", "w")])).unwrap();
        let ids = tokenizer.encode("hello world<|eot|>");
        assert_eq!(tokenizer.decode(&ids), "hello world<|eot|>");
        assert_eq!(ids[0], 258, "h e, l l, then he ll");
        assert!(ids.contains(&259), "the space joins the next word: Ġw");
        assert_eq!(*ids.last().unwrap(), 300);
    }

    #[test]
    fn pre_tokenization_keeps_every_byte() {
        assert_eq!(pre_tokenize("Hi there, 42 apples!\n\n  ok"), vec!["Hi", " there", ",", " 42", " apples", "!", "\n\n ", " ok"]);
    }

    #[test]
    fn files_that_are_not_byte_level_bpe_are_refused() {
        assert!(Tokenizer::from_json("{").is_err());
        assert!(Tokenizer::from_json(r#"{"model": {"type": "Unigram", "vocab": {}}}"#).is_err());
        assert!(Tokenizer::from_json(r#"{"model": {"type": "BPE", "vocab": {"a": 0}}}"#).is_err(), "no byte alphabet");
        assert!(Tokenizer::from_json(r#"{"model": {"type": "BPE", "vocab": {"a": 4000000000}}}"#).is_err());
    }

    proptest! {
        #[test]
        fn any_text_round_trips(text in "\\PC{0,64}") {
            let tokenizer = Tokenizer::from_json(&byte_vocab_with(&[("Ġ", "t"), ("e", "r")])).unwrap();
            prop_assert_eq!(tokenizer.decode(&tokenizer.encode(&text)), text);
        }
    }
}
