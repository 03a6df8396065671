//! Text that people type — a name, a note, a reason, a campaign, a question — as types that
//! can only hold what their rule allows, so that a value checked for the API is checked for a
//! form too, in one place.
//!
//! Every kind is trimmed, counted in characters (not bytes) and refuses NUL and the other
//! control characters; the kinds written in a text area (notes, descriptions, reasons,
//! questions) keep line breaks and tabs (a Windows line break becomes `\n`). A kind is either
//! optional (blank means none) or required (blank is refused).
//!
//! | kind | at most | lines | blank |
//! |---|---:|---|---|
//! | [`Name`] (a person's) | 100 | one | allowed (no name) |
//! | [`Note`] | 1000 | many | none |
//! | [`Reason`] | 500 | many | refused |
//! | [`Campaign`] | 500 | one | none |
//! | [`Question`] | 1000 | many | none |
//! | [`Label`] (a feature's or tier's name) | 100 | one | refused |
//! | [`Description`] | 1000 | many | allowed |
//! | [`Category`], [`Unit`] | 50 | one | refused / none |
//! | [`ActivityKind`] | 100 | one | refused |
//! | [`SearchQuery`] | 200 | one | none |
//! | [`CouponNote`] | 500 | many | none |
//! | [`Email`] (as typed) | 254 | one | refused |
//! | [`Code`] (a coupon's, as typed) | 100 | one | refused |

use std::fmt;
use std::marker::PhantomData;

/// Why a text was refused; the words are the API's (`fields: {"note": "…"}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TextError {
    /// Blank where text is required.
    Missing,
    /// Longer than the kind allows (characters).
    TooLong { max: usize },
    /// Holds NUL.
    Nul,
    /// Holds another control character (or a line break where one line is allowed).
    Control,
}

impl fmt::Display for TextError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TextError::Missing => f.write_str("must not be empty"),
            TextError::TooLong { max } => write!(f, "must be at most {max} characters"),
            TextError::Nul => f.write_str("must not contain NUL characters"),
            TextError::Control => f.write_str("must not contain control characters"),
        }
    }
}

impl std::error::Error for TextError {}

/// The rule of one kind of text.
pub trait Rule {
    /// The most characters, after trimming.
    const MAX_CHARS: usize;
    /// Whether line breaks and tabs are kept (a text area) or refused (one line).
    const LINES: bool;
}

/// A text that follows the rule `R`: trimmed, within its length, without control
/// characters. Build it with [`Text::parse`] (blank refused) or [`Text::parse_optional`]
/// (blank is `None`).
pub struct Text<R: Rule> {
    value: String,
    rule: PhantomData<fn() -> R>,
}

impl<R: Rule> Text<R> {
    /// The text, or why not; blank is [`TextError::Missing`].
    pub fn parse(raw: &str) -> Result<Text<R>, TextError> {
        Text::parse_optional(raw)?.ok_or(TextError::Missing)
    }

    /// The text, `None` when blank, or why not.
    pub fn parse_optional(raw: &str) -> Result<Option<Text<R>>, TextError> {
        let value = clean(raw, R::MAX_CHARS, R::LINES)?;
        Ok((!value.is_empty()).then_some(Text {
            value,
            rule: PhantomData,
        }))
    }

    /// The text, which may be blank (an empty text), or why not.
    pub fn parse_or_empty(raw: &str) -> Result<Text<R>, TextError> {
        Ok(Text {
            value: clean(raw, R::MAX_CHARS, R::LINES)?,
            rule: PhantomData,
        })
    }

    pub fn as_str(&self) -> &str {
        &self.value
    }

    pub fn into_string(self) -> String {
        self.value
    }
}

/// Trims `raw` and checks it against the rule; a Windows line break becomes `\n`.
fn clean(raw: &str, max: usize, lines: bool) -> Result<String, TextError> {
    let trimmed = raw.trim();
    if trimmed.contains('\0') {
        return Err(TextError::Nul);
    }
    let allowed = |c: char| lines && matches!(c, '\n' | '\t' | '\r');
    if trimmed.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(TextError::Control);
    }
    let value = if lines && trimmed.contains('\r') {
        trimmed.replace("\r\n", "\n").replace('\r', "\n")
    } else {
        trimmed.to_owned()
    };
    if value.chars().count() > max {
        return Err(TextError::TooLong { max });
    }
    Ok(value)
}

impl<R: Rule> Clone for Text<R> {
    fn clone(&self) -> Self {
        Text {
            value: self.value.clone(),
            rule: PhantomData,
        }
    }
}

impl<R: Rule> PartialEq for Text<R> {
    fn eq(&self, other: &Self) -> bool {
        self.value == other.value
    }
}

impl<R: Rule> Eq for Text<R> {}

impl<R: Rule> fmt::Debug for Text<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.value, f)
    }
}

impl<R: Rule> fmt::Display for Text<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.value)
    }
}

impl<R: Rule> AsRef<str> for Text<R> {
    fn as_ref(&self) -> &str {
        &self.value
    }
}

impl<R: Rule> From<Text<R>> for String {
    fn from(text: Text<R>) -> String {
        text.value
    }
}

/// The kinds of text (the rules of the table above).
pub mod rules {
    use super::Rule;

    /// A person's name.
    pub enum Name {}
    impl Rule for Name {
        const MAX_CHARS: usize = 100;
        const LINES: bool = false;
    }

    /// A note on an entry, a photo or a coupon.
    pub enum Note {}
    impl Rule for Note {
        const MAX_CHARS: usize = 1000;
        const LINES: bool = true;
    }

    /// Why an admin set a personal limit or paused a grant.
    pub enum Reason {}
    impl Rule for Reason {
        const MAX_CHARS: usize = 500;
        const LINES: bool = true;
    }

    /// The campaign of coupons.
    pub enum Campaign {}
    impl Rule for Campaign {
        const MAX_CHARS: usize = 500;
        const LINES: bool = false;
    }

    /// A question to the AI.
    pub enum Question {}
    impl Rule for Question {
        const MAX_CHARS: usize = 1000;
        const LINES: bool = true;
    }

    /// The name of a feature or a tier.
    pub enum Label {}
    impl Rule for Label {
        const MAX_CHARS: usize = 100;
        const LINES: bool = false;
    }

    /// The description of a feature or a tier.
    pub enum Description {}
    impl Rule for Description {
        const MAX_CHARS: usize = 1000;
        const LINES: bool = true;
    }

    /// The category of a feature.
    pub enum Category {}
    impl Rule for Category {
        const MAX_CHARS: usize = 50;
        const LINES: bool = false;
    }

    /// The unit a feature counts in.
    pub enum Unit {}
    impl Rule for Unit {
        const MAX_CHARS: usize = 50;
        const LINES: bool = false;
    }

    /// The kind of an activity entry (`running`, `yoga`, …).
    pub enum ActivityKind {}
    impl Rule for ActivityKind {
        const MAX_CHARS: usize = 100;
        const LINES: bool = false;
    }

    /// An admin's note on a coupon.
    pub enum CouponNote {}
    impl Rule for CouponNote {
        const MAX_CHARS: usize = 500;
        const LINES: bool = true;
    }

    /// An e-mail address as typed, before its form is checked
    /// ([`crate::accounts::validate_email`]).
    pub enum Email {}
    impl Rule for Email {
        const MAX_CHARS: usize = 254;
        const LINES: bool = false;
    }

    /// A coupon code as typed (spaces and dashes are ignored when it is compared).
    pub enum Code {}
    impl Rule for Code {
        const MAX_CHARS: usize = 100;
        const LINES: bool = false;
    }

    /// What an admin searches profiles for.
    pub enum SearchQuery {}
    impl Rule for SearchQuery {
        const MAX_CHARS: usize = 200;
        const LINES: bool = false;
    }
}

pub type Name = Text<rules::Name>;
pub type Note = Text<rules::Note>;
pub type Reason = Text<rules::Reason>;
pub type Campaign = Text<rules::Campaign>;
pub type Question = Text<rules::Question>;
pub type Label = Text<rules::Label>;
pub type Description = Text<rules::Description>;
pub type Category = Text<rules::Category>;
pub type Unit = Text<rules::Unit>;
pub type ActivityKind = Text<rules::ActivityKind>;
pub type SearchQuery = Text<rules::SearchQuery>;
pub type CouponNote = Text<rules::CouponNote>;
pub type Email = Text<rules::Email>;
pub type Code = Text<rules::Code>;

/// The key a client sends to make a write safe to retry (`Idempotency-Key`, or the
/// hidden field of a form): 1–200 visible ASCII characters.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 200;

    pub fn parse(raw: &str) -> Result<IdempotencyKey, IdempotencyKeyError> {
        let ok = !raw.is_empty()
            && raw.len() <= IdempotencyKey::MAX_LEN
            && raw.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(IdempotencyKey(raw.to_owned()))
        } else {
            Err(IdempotencyKeyError)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An idempotency key that is empty, too long or not visible ASCII.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyKeyError;

impl fmt::Display for IdempotencyKeyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("must be 1 to 200 visible ASCII characters")
    }
}

impl std::error::Error for IdempotencyKeyError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trimmed_and_counted_in_characters() {
        assert_eq!(Note::parse("  a note \n").unwrap().as_str(), "a note");
        assert_eq!(Note::parse_optional("   ").unwrap(), None);
        assert_eq!(Note::parse("  "), Err(TextError::Missing));
        assert_eq!(Name::parse_or_empty(" ").unwrap().as_str(), "");
        // 100 characters of four bytes each are a name; 101 are not.
        assert!(Name::parse(&"😀".repeat(100)).is_ok());
        assert_eq!(
            Name::parse(&"😀".repeat(101)),
            Err(TextError::TooLong { max: 100 })
        );
        assert_eq!(
            Note::parse(&"x".repeat(70_000)),
            Err(TextError::TooLong { max: 1000 })
        );
    }

    #[test]
    fn control_characters_are_refused() {
        assert_eq!(Note::parse("a\0b"), Err(TextError::Nul));
        assert_eq!(Name::parse("a\0"), Err(TextError::Nul));
        assert_eq!(Name::parse("a\nb"), Err(TextError::Control));
        assert_eq!(Campaign::parse("a\tb"), Err(TextError::Control));
        assert_eq!(Note::parse("a\u{1b}[31m"), Err(TextError::Control));
        assert_eq!(Note::parse("a\u{7f}"), Err(TextError::Control));
        // A text area keeps its lines; a Windows line break becomes one `\n`.
        assert_eq!(Note::parse("a\r\nb\tc").unwrap().as_str(), "a\nb\tc");
        assert_eq!(Question::parse("a\rb").unwrap().as_str(), "a\nb");
    }

    #[test]
    fn the_words_are_the_apis() {
        assert_eq!(
            TextError::TooLong { max: 500 }.to_string(),
            "must be at most 500 characters"
        );
        assert_eq!(
            TextError::Nul.to_string(),
            "must not contain NUL characters"
        );
        assert_eq!(
            IdempotencyKeyError.to_string(),
            "must be 1 to 200 visible ASCII characters"
        );
    }

    #[test]
    fn idempotency_keys_are_visible_ascii() {
        assert!(IdempotencyKey::parse("0199-abc_DEF").is_ok());
        for bad in ["", "a b", "a\0", "ä", &"k".repeat(201)] {
            assert_eq!(
                IdempotencyKey::parse(bad),
                Err(IdempotencyKeyError),
                "{bad:?}"
            );
        }
        assert!(IdempotencyKey::parse(&"k".repeat(200)).is_ok());
    }
}
