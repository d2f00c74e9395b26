//! Field-level refusals of bad input, collected so a client learns every
//! wrong field at once.

use std::fmt;

/// One wrong field: its path in the request (`person.id_number`) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldViolation {
    pub field: String,
    pub description: String,
}

/// A request refused because one or more fields are wrong.
#[derive(Clone, Debug, Default, PartialEq, Eq, thiserror::Error)]
pub struct Invalid {
    pub violations: Vec<FieldViolation>,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let fields: Vec<&str> = self.violations.iter().map(|v| v.field.as_str()).collect();
        write!(f, "invalid field(s): {}", fields.join(", "))
    }
}

impl Invalid {
    pub fn field(field: impl Into<String>, description: impl fmt::Display) -> Self {
        let mut invalid = Self::default();
        invalid.push(field, description);
        invalid
    }

    pub fn push(&mut self, field: impl Into<String>, description: impl fmt::Display) {
        self.violations.push(FieldViolation {
            field: field.into(),
            description: description.to_string(),
        });
    }

    /// Keeps the value of a parse, or records its error under `field`.
    pub fn check<T, E: fmt::Display>(&mut self, field: &str, result: Result<T, E>) -> Option<T> {
        result.map_err(|error| self.push(field, error)).ok()
    }

    /// `Ok(value)` when nothing was recorded.
    ///
    /// # Errors
    /// Itself, when any violation was recorded.
    pub fn finish<T>(self, value: impl FnOnce() -> Option<T>) -> Result<T, Invalid> {
        match (self.violations.is_empty(), value()) {
            (true, Some(value)) => Ok(value),
            (true, None) => Err(Invalid::field("request", "incomplete request")),
            (false, _) => Err(self),
        }
    }
}

/// Free text from a user: trimmed, 1..=`max` characters, no control characters.
///
/// # Errors
/// A description of what is wrong, for a [`FieldViolation`].
pub fn text(value: &str, max: usize) -> Result<String, String> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err("is required".into());
    }
    if trimmed.chars().count() > max {
        return Err(format!("is longer than {max} characters"));
    }
    if trimmed.chars().any(char::is_control) {
        return Err("contains control characters".into());
    }
    Ok(trimmed.to_owned())
}

/// A client-chosen request id: 1..=128 printable ASCII characters.
///
/// # Errors
/// A description of what is wrong.
pub fn request_id(value: &str) -> Result<String, String> {
    if value.is_empty() || value.len() > 128 {
        return Err("must be 1-128 characters".into());
    }
    if !value.bytes().all(|b| b.is_ascii_graphic()) {
        return Err("must be printable ASCII without spaces".into());
    }
    Ok(value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(text("  张三 ", 50).unwrap(), "张三");
        assert!(text("   ", 50).is_err());
        assert!(text("a\u{0}b", 50).is_err());
        assert!(text(&"张".repeat(51), 50).is_err());
        assert!(text(&"张".repeat(50), 50).is_ok());
    }

    #[test]
    fn every_violation_is_kept() {
        let mut invalid = Invalid::default();
        let a: Option<u8> = invalid.check("a", "x".parse::<u8>());
        let b: Option<u8> = invalid.check("b", "7".parse::<u8>());
        let c: Option<u8> = invalid.check("c", "".parse::<u8>());
        assert_eq!((a, b, c), (None, Some(7), None));
        let error = invalid.finish(|| Some(())).unwrap_err();
        let fields: Vec<_> = error.violations.iter().map(|v| v.field.as_str()).collect();
        assert_eq!(fields, ["a", "c"]);
    }
}

#[cfg(test)]
mod proptests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn accepted_text_is_trimmed_bounded_and_without_control_characters(
            value in prop_oneof![".{0,70}", "\\PC{0,70}", "[ \t\r\n\u{0}\u{85}a-z张]{0,70}"],
            max in 0usize..64,
        ) {
            match text(&value, max) {
                Ok(text) => {
                    prop_assert_eq!(text.as_str(), value.trim());
                    prop_assert!(!text.is_empty() && text.chars().count() <= max);
                    prop_assert!(!text.chars().any(char::is_control));
                }
                Err(reason) => prop_assert!(!reason.is_empty()),
            }
        }

        #[test]
        fn a_request_id_is_printable_ascii_of_at_most_128(
            value in prop_oneof!["\\PC{0,140}", "[!-~]{0,140}"],
        ) {
            let valid =
                (1..=128).contains(&value.len()) && value.bytes().all(|b| b.is_ascii_graphic());
            prop_assert_eq!(request_id(&value).ok(), valid.then(|| value.clone()));
        }
    }
}
