//! What the public pages never show, and how names are hidden.
//!
//! A vendor that is a natural person (自然人) is named in the records by the person's name: the
//! public pages show only its first character followed by `*` (王**). A business (企业, 个体工商户)
//! is shown by its registered name, as on its licence. Registration codes are masked so that no
//! run of digits long enough to be an ID number is printed. [`personal_numbers`] finds what looks
//! like a mainland mobile number (`1[3-9]` + 9 digits) or a resident ID number (17 digits and a
//! digit or `X`): the tests scan every public response with it.

/// A person's name with all but the first character hidden: `王建国` → `王**`.
pub fn mask_person(name: &str) -> String {
    let mut chars = name.trim().chars();
    let Some(first) = chars.next() else { return "*".into() };
    let rest = chars.count().max(1);
    format!("{first}{}", "*".repeat(rest))
}

/// The name a vendor is shown by: masked for a natural person, as registered otherwise.
pub fn display_name(subject_kind: &str, name: &str) -> String {
    if subject_kind == "person" { mask_person(name) } else { name.to_string() }
}

/// A unified social credit code with its middle hidden: `91130100MA0XXXXX1X` → `911301********1X`.
pub fn mask_code(code: &str) -> String {
    let chars: Vec<char> = code.chars().collect();
    if chars.len() < 10 {
        return "*".repeat(chars.len().max(1));
    }
    let head: String = chars[..6].iter().collect();
    let tail: String = chars[chars.len() - 2..].iter().collect();
    format!("{head}{}{tail}", "*".repeat(chars.len() - 8))
}

/// Substrings that look like a mobile phone number or a resident ID number.
pub fn personal_numbers(text: &str) -> Vec<String> {
    let b = text.as_bytes();
    let mut found = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if let Some(len) = id_at(b, i).or_else(|| phone_at(b, i)) {
            found.push(text[i..i + len].to_string());
            i += len;
        } else {
            i += 1;
        }
    }
    found
}

fn digits(b: &[u8], from: usize, n: usize) -> bool {
    b.len() >= from + n && b[from..from + n].iter().all(u8::is_ascii_digit)
}

fn phone_at(b: &[u8], i: usize) -> Option<usize> {
    (b[i] == b'1' && b.get(i + 1).is_some_and(|c| (b'3'..=b'9').contains(c)) && digits(b, i + 2, 9)).then_some(11)
}

fn id_at(b: &[u8], i: usize) -> Option<usize> {
    (digits(b, i, 17) && b.get(i + 17).is_some_and(|c| c.is_ascii_digit() || *c == b'X')).then_some(18)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_are_masked_businesses_are_not() {
        assert_eq!(display_name("person", "王建国"), "王**");
        assert_eq!(display_name("person", "李四"), "李*");
        assert_eq!(display_name("individual_business", "王建国白菜经营部"), "王建国白菜经营部");
    }

    #[test]
    fn masked_codes_keep_no_long_digit_run() {
        let m = mask_code("911301001234567890");
        assert_eq!(m, "911301**********90");
        assert!(personal_numbers(&m).is_empty());
    }

    #[test]
    fn phone_and_id_numbers_are_found_inside_text() {
        assert_eq!(personal_numbers("电话13912345678。"), vec!["13912345678"]);
        assert_eq!(personal_numbers("身份证13010219800101123X"), vec!["13010219800101123X"]);
        assert!(personal_numbers("T000123456 2026-11-29 12345678901").is_empty());
    }
}
