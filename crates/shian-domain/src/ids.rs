//! Identifiers issued by the state: the unified social credit code (统一社会信用代码, GB 32100-2015)
//! and the resident identity number (公民身份号码, GB 11643-1999), each with its check character.

const USCC_CHARS: &[u8] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
const USCC_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];
const ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const ID_CHECK: &[u8] = b"10X98765432";

/// The check character for the first 17 characters of a credit code, or `None` if one of them is
/// not in the code's alphabet.
pub fn uscc_check_char(first17: &str) -> Option<char> {
    let mut sum = 0;
    for (b, w) in first17.bytes().zip(USCC_WEIGHTS) {
        sum += USCC_CHARS.iter().position(|&c| c == b)? as u32 * w;
    }
    let check = (31 - sum % 31) % 31;
    Some(USCC_CHARS[check as usize] as char)
}

/// Whether `code` is a well-formed unified social credit code with a correct check character.
pub fn is_valid_uscc(code: &str) -> bool {
    code.len() == 18 && code.is_ascii() && uscc_check_char(&code[..17]) == code[17..].chars().next()
}

/// The check character for the first 17 digits of an identity number.
pub fn id_check_char(first17: &str) -> Option<char> {
    let mut sum = 0;
    for (b, w) in first17.bytes().zip(ID_WEIGHTS) {
        if !b.is_ascii_digit() {
            return None;
        }
        sum += (b - b'0') as u32 * w;
    }
    Some(ID_CHECK[(sum % 11) as usize] as char)
}

/// Whether `id` is an 18-character identity number with a correct check character.
pub fn is_valid_id_number(id: &str) -> bool {
    id.len() == 18 && id.is_ascii() && id_check_char(&id[..17]) == id[17..].chars().next()
}

/// Masks the middle of a personal identifier for display (`130102********1234`).
pub fn mask(id: &str) -> String {
    id.chars().enumerate().map(|(i, c)| if i < 6 || i + 4 >= id.chars().count() { c } else { '*' }).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn known_valid_codes() {
        // Published example codes with correct check characters.
        assert!(is_valid_uscc("91350100M000100Y43"));
        assert!(is_valid_id_number("11010519491231002X"));
        assert!(!is_valid_uscc("91350100M000100Y44"));
        assert!(!is_valid_id_number("110105194912310021"));
    }

    proptest! {
        #[test]
        fn a_computed_check_char_always_validates(body in "[0-9A-HJ-NP-RTUW-Y]{17}") {
            let code = format!("{body}{}", uscc_check_char(&body).unwrap());
            prop_assert!(is_valid_uscc(&code));
        }

        #[test]
        fn any_single_digit_change_is_caught(body in "[0-9]{17}", pos in 0usize..17, delta in 1u8..10) {
            let id = format!("{body}{}", id_check_char(&body).unwrap());
            let mut bytes = id.into_bytes();
            bytes[pos] = b'0' + (bytes[pos] - b'0' + delta) % 10;
            prop_assert!(!is_valid_id_number(&String::from_utf8(bytes).unwrap()));
        }
    }
}
