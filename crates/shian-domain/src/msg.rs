//! Bilingual messages: Simplified Chinese first, English beside it.

use std::borrow::Cow;
use std::fmt;

/// The language a person reads messages in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// Simplified Chinese, the default for every user-facing text.
    #[default]
    Zh,
    /// English.
    En,
}

impl Lang {
    /// Parses `zh`, `zh-CN`, `en`, `en-US`, … (case-insensitive); anything else is `None`.
    pub fn parse(s: &str) -> Option<Lang> {
        let s = s.to_ascii_lowercase();
        if s.starts_with("zh") {
            Some(Lang::Zh)
        } else if s.starts_with("en") {
            Some(Lang::En)
        } else {
            None
        }
    }
}

/// A message a person will read, in both languages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Msg {
    pub zh: Cow<'static, str>,
    pub en: Cow<'static, str>,
}

impl Msg {
    pub fn new(zh: impl Into<Cow<'static, str>>, en: impl Into<Cow<'static, str>>) -> Msg {
        Msg { zh: zh.into(), en: en.into() }
    }

    /// The text in `lang`.
    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::Zh => &self.zh,
            Lang::En => &self.en,
        }
    }
}

impl fmt::Display for Msg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.zh, self.en)
    }
}
