//! Shian's trace code (追溯码) for a receipt that arrives without a lot code of its own.
//!
//! A market system that prints its own lot codes keeps them (they are stored as given). A receipt
//! without one gets a code derived from the receipt itself, so that every lot has a code that can
//! be printed on a receipt or a label, typed back from it, and found again:
//!
//! ```text
//!   S 261129 7K3Q2MXA 5      stored  S2611297K3Q2MXA5   (16 characters)
//!   │ │      │        └─ check character (Luhn mod 32 over the 15 before it)
//!   │ │      └─ 8 characters: 40 bits of the FNV-1a hash of "SOURCE\u{1f}EXT_ID"
//!   │ └─ the day received, China time, YYMMDD
//!   └─ "S": a code Shian assigned
//!   printed  S-261129-7K3Q-2MXA-5
//! ```
//!
//! Characters are Crockford's base 32 (`0-9`, `A-Z` without `I L O U`), so a code read aloud or
//! retyped from a label cannot mix up 0/O or 1/I/L: [`normalize`] maps those back, drops dashes
//! and spaces and upper-cases. The same receipt always gets the same code, so a re-import changes
//! nothing. Two receipts of one vendor share a code only if they were received the same day and
//! their 40-bit hashes collide (about one chance in 10¹² for a pair).

use chrono::NaiveDate;

const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

fn value_of(c: u8) -> Option<u32> {
    ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

/// FNV-1a, 64 bits: stable across versions and platforms (the standard library's hasher is not).
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3))
}

/// The Luhn mod 32 check character of `body` (characters of [`ALPHABET`]).
fn check_char(body: &str) -> Option<char> {
    let mut factor = 2;
    let mut sum = 0;
    for c in body.bytes().rev() {
        let addend = factor * value_of(c)?;
        sum += addend / 32 + addend % 32;
        factor = if factor == 2 { 1 } else { 2 };
    }
    Some(ALPHABET[((32 - sum % 32) % 32) as usize] as char)
}

/// The code of a receipt from its source system, record number and day received.
pub fn for_receipt(source: &str, ext_id: &str, received: NaiveDate) -> String {
    let hash = fnv1a(format!("{source}\u{1f}{ext_id}").as_bytes()) >> 24;
    let serial: String = (0..8).rev().map(|i| ALPHABET[((hash >> (i * 5)) & 31) as usize] as char).collect();
    let body = format!("S{}{serial}", received.format("%y%m%d"));
    let check = check_char(&body).expect("the body is in the alphabet");
    format!("{body}{check}")
}

/// A code as a person typed it, in its stored form, if it is a Shian trace code with a correct
/// check character; `None` otherwise (it may still be a market's own lot code).
pub fn normalize(typed: &str) -> Option<String> {
    let code: String = typed
        .chars()
        .filter(|c| !matches!(c, '-' | ' ' | '\u{3000}'))
        .map(|c| match c.to_ascii_uppercase() {
            'O' => '0',
            'I' | 'L' => '1',
            c => c,
        })
        .collect();
    let valid = code.len() == 16
        && code.starts_with('S')
        && code[1..7].bytes().all(|b| b.is_ascii_digit())
        && check_char(&code[..15]) == code[15..].chars().next();
    valid.then_some(code)
}

/// The printed form: `S-261129-7K3Q-2MXA-5`.
pub fn printed(code: &str) -> String {
    if code.len() != 16 || !code.is_ascii() {
        return code.to_string();
    }
    format!("{}-{}-{}-{}-{}", &code[..1], &code[1..7], &code[7..11], &code[11..15], &code[15..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day() -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, 29).expect("date")
    }

    #[test]
    fn a_receipt_always_gets_the_same_short_code() {
        let a = for_receipt("MKT01", "R000123", day());
        assert_eq!(a, for_receipt("MKT01", "R000123", day()));
        assert_ne!(a, for_receipt("MKT01", "R000124", day()));
        assert_eq!(a.len(), 16);
        assert!(a.starts_with("S261129"));
        assert_eq!(normalize(&a).as_deref(), Some(a.as_str()));
    }

    #[test]
    fn a_printed_code_typed_back_with_confusable_letters_is_found() {
        let code = for_receipt("MKT01", "R9", day());
        let typed = printed(&code).to_lowercase().replace('0', "o").replace('1', "l");
        assert_eq!(normalize(&typed).as_deref(), Some(code.as_str()));
    }

    #[test]
    fn every_single_character_typo_is_caught() {
        let code = for_receipt("SRC", "42", day());
        for i in 1..16 {
            for &c in ALPHABET {
                let mut bytes = code.clone().into_bytes();
                if bytes[i] == c {
                    continue;
                }
                bytes[i] = c;
                let typo = String::from_utf8(bytes).expect("ascii");
                assert_eq!(normalize(&typo), None, "{typo} passed the check");
            }
        }
    }

    #[test]
    fn market_lot_codes_are_not_taken_for_shian_codes() {
        assert_eq!(normalize("T000123456"), None);
        assert_eq!(normalize("HG1300000042"), None);
    }
}
