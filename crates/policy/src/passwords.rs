//! Which new passwords are refused (for `admin add-user`, `admin reset-password` and the admin
//! API alike): shorter than 8 characters, when it is the
//! user's name or the product's, or when it is on a small list of the most common passwords (the
//! blocklist check NIST SP 800-63B asks of memorised secrets; a long list belongs in a password
//! manager's generator, not here).

/// Fewest characters accepted.
pub const MIN_CHARS: usize = 8;
/// Most characters accepted (argon2 takes any length; this bounds a pasted mistake).
pub const MAX_CHARS: usize = 1024;

/// Common passwords of 8 characters or more (from public breach-frequency lists), lower case.
const COMMON: &[&str] = &[
    "password",
    "password1",
    "password12",
    "password123",
    "password1234",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "12345678",
    "123456789",
    "1234567890",
    "12345678910",
    "0123456789",
    "987654321",
    "87654321",
    "11111111",
    "111111111",
    "00000000",
    "88888888",
    "66666666",
    "12341234",
    "11223344",
    "123123123",
    "1q2w3e4r",
    "1q2w3e4r5t",
    "1qaz2wsx",
    "zaq12wsx",
    "qwertyui",
    "qwertyuiop",
    "qwerty123",
    "qwerty12",
    "asdfghjk",
    "asdfghjkl",
    "zxcvbnm1",
    "abcd1234",
    "abc12345",
    "abcdefgh",
    "iloveyou",
    "iloveyou1",
    "sunshine",
    "princess",
    "football",
    "baseball",
    "basketball",
    "superman",
    "batman123",
    "starwars",
    "whatever",
    "trustno1",
    "welcome1",
    "welcome123",
    "letmein1",
    "letmein123",
    "changeme",
    "changeme1",
    "administrator",
    "admin123",
    "admin1234",
    "adminadmin",
    "rootroot",
    "master123",
    "computer",
    "internet",
    "michelle",
    "jennifer",
    "jordan23",
    "charlie1",
    "dragon12",
    "mustang1",
    "shadow12",
    "monkey123",
    "liverpool",
    "chelsea1",
    "arsenal1",
    "football1",
    "q1w2e3r4",
    "q1w2e3r4t5",
    "1234qwer",
    "qazwsxedc",
    "a1b2c3d4",
    "aa123456",
    "secret123",
    "default1",
    "test1234",
    "testtest",
    "guest123",
    "summer2024",
    "winter2024",
    "spring2025",
    "autumn2025",
    "summer2025",
    "winter2025",
    "demodemo",
    "shieldwall",
    "shieldwall1",
    "shieldwall123",
    "taxii2.1",
];

/// Why `password` is refused for user `user`, if it is.
pub fn weakness(password: &str, user: &str) -> Option<String> {
    let n = password.chars().count();
    if n < MIN_CHARS {
        return Some(format!("it is shorter than {MIN_CHARS} characters"));
    }
    if n > MAX_CHARS {
        return Some(format!("it is longer than {MAX_CHARS} characters"));
    }
    let lower = password.to_lowercase();
    if lower == user.to_lowercase() {
        return Some("it is the user's name".to_owned());
    }
    if COMMON.contains(&lower.as_str()) {
        return Some("it is one of the most common passwords".to_owned());
    }
    if password.chars().all(|c| password.starts_with(c)) {
        return Some("it repeats one character".to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weak_passwords_are_refused_and_good_ones_pass() {
        assert!(weakness("short", "alice").is_some());
        assert!(weakness("1234567", "alice").is_some());
        assert!(
            weakness("Password123", "alice").is_some(),
            "case-insensitive list"
        );
        assert!(weakness("QWERTYUIOP", "alice").is_some());
        assert!(weakness("alicealice", "alicealice").is_some());
        assert!(weakness("zzzzzzzzzz", "alice").is_some());
        assert!(weakness(&"x".repeat(2000), "alice").is_some());
        assert_eq!(weakness("s3cret-pass", "alice"), None);
        assert_eq!(weakness("correct horse battery staple", "alice"), None);
        // Eight characters counted as characters, not bytes.
        assert_eq!(weakness("ÉtéÀ5kmx", "alice"), None);
        assert!(weakness("Étéà5km", "alice").is_some());
    }

    #[test]
    fn the_list_is_lower_case_and_long_enough_to_matter() {
        for p in COMMON {
            assert_eq!(p.to_lowercase(), *p);
            assert!(
                p.chars().count() >= MIN_CHARS,
                "{p} is refused by length already"
            );
        }
    }
}
