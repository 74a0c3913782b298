//! The triage analyzer as a tantivy tokenizer: words as triage cuts them, with spans into the
//! original text so snippets highlight what the caller actually wrote.

use tantivy::Index;
use tantivy::tokenizer::{TextAnalyzer, Token, TokenStream, Tokenizer};

use crate::text::Analyzer;

/// The name the tokenizer is registered under.
pub const TOKENIZER: &str = "fengqiao";

/// Holds nothing: the dictionary lives in [`Analyzer::global`], so tantivy's per-thread clones
/// cost nothing.
#[derive(Clone, Copy, Default)]
pub struct TriageTokenizer;

/// The tokens of one text.
pub struct Tokens {
    tokens: Vec<Token>,
    at: usize,
}

impl Tokenizer for TriageTokenizer {
    type TokenStream<'a> = Tokens;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Tokens {
        let tokens = Analyzer::global()
            .words_with_offsets(text)
            .into_iter()
            .enumerate()
            .map(|(position, (word, from, to))| Token { offset_from: from, offset_to: to, position, text: word, position_length: 1 })
            .collect();
        Tokens { tokens, at: 0 }
    }
}

impl TokenStream for Tokens {
    fn advance(&mut self) -> bool {
        self.at += 1;
        self.at <= self.tokens.len()
    }

    fn token(&self) -> &Token {
        &self.tokens[self.at - 1]
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.tokens[self.at - 1]
    }
}

/// Registers the tokenizer with an index.
pub fn register(index: &Index) {
    index.tokenizers().register(TOKENIZER, TextAnalyzer::from(TriageTokenizer));
}
