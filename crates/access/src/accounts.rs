//! Account input: what an e-mail address and a password must look like.

/// Checks an e-mail address well enough to send mail to it.
pub fn validate_email(email: &str) -> Result<(), String> {
    let email = email.trim();
    let Some((local, domain)) = email.rsplit_once('@') else {
        return Err("must be an e-mail address".into());
    };
    let valid = !local.is_empty()
        && email.len() <= 254
        && local.len() <= 64
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !email
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>')
        && !domain.contains('@');
    if valid {
        Ok(())
    } else {
        Err("must be an e-mail address".into())
    }
}

/// Passwords are 8–128 characters.
pub fn validate_password(password: &str) -> Result<(), String> {
    let n = password.chars().count();
    if (8..=128).contains(&n) {
        Ok(())
    } else {
        Err("must be 8 to 128 characters long".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails() {
        for ok in ["a@b.org", " Anna.Muster+x@example.co.uk "] {
            assert!(validate_email(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "a",
            "a@",
            "@b.org",
            "a@b",
            "a b@c.org",
            "a@b.org.",
            "<a@b.org>",
        ] {
            assert!(validate_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn passwords() {
        assert!(validate_password("1234567").is_err());
        assert!(validate_password("12345678").is_ok());
        assert!(validate_password(&"x".repeat(129)).is_err());
        assert!(validate_password("äöüäöüäö").is_ok());
    }
}
