//! The one table of MLflow error codes and the error type that carries them.
//!
//! Every failure that reaches a user carries one of these codes; the HTTP layer maps it
//! to a status and the MLflow error body, the CLI prints its message.

use std::fmt;

macro_rules! error_codes {
    ($($name:ident => $status:literal, $class:literal, $sqlstate:literal;)*) => {
        /// MLflow's error codes (`databricks.proto`), each with its HTTP status,
        /// `error_class` and `sqlstate` as MLflow 3 reports them.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[allow(non_camel_case_types, clippy::upper_case_acronyms)]
        pub enum ErrorCode { $($name,)* }

        impl ErrorCode {
            pub fn as_str(self) -> &'static str {
                match self { $(ErrorCode::$name => stringify!($name),)* }
            }
            pub fn http_status(self) -> u16 {
                match self { $(ErrorCode::$name => $status,)* }
            }
            pub fn error_class(self) -> &'static str {
                match self { $(ErrorCode::$name => $class,)* }
            }
            pub fn sqlstate(self) -> &'static str {
                match self { $(ErrorCode::$name => $sqlstate,)* }
            }
            pub fn parse(s: &str) -> Option<ErrorCode> {
                match s { $(stringify!($name) => Some(ErrorCode::$name),)* _ => None }
            }
        }
    };
}

error_codes! {
    INTERNAL_ERROR => 500, "CLIENT_INTERNAL_ERROR", "XXM00";
    INVALID_STATE => 500, "CLIENT_INTERNAL_ERROR", "XXM00";
    DATA_LOSS => 500, "CLIENT_INTERNAL_ERROR", "XXM00";
    NOT_IMPLEMENTED => 501, "CLIENT_INTERNAL_ERROR", "XXM00";
    TEMPORARILY_UNAVAILABLE => 503, "CLIENT_INTERNAL_ERROR", "XXM00";
    DEADLINE_EXCEEDED => 504, "CLIENT_INTERNAL_ERROR", "XXM00";
    REQUEST_LIMIT_EXCEEDED => 429, "INVALID_PARAMETER_VALUE", "KAM00";
    RESOURCE_EXHAUSTED => 429, "INVALID_PARAMETER_VALUE", "KAM00";
    ABORTED => 409, "INVALID_PARAMETER_VALUE", "KAM00";
    RESOURCE_CONFLICT => 409, "INVALID_PARAMETER_VALUE", "KAM00";
    ALREADY_EXISTS => 409, "RESOURCE_ALREADY_EXISTS", "KAM00";
    NOT_FOUND => 404, "RESOURCE_NOT_FOUND", "KAM00";
    ENDPOINT_NOT_FOUND => 404, "RESOURCE_NOT_FOUND", "KAM00";
    RESOURCE_DOES_NOT_EXIST => 404, "RESOURCE_NOT_FOUND", "KAM00";
    PERMISSION_DENIED => 403, "PERMISSION_DENIED", "KAM00";
    CUSTOMER_UNAUTHORIZED => 401, "PERMISSION_DENIED", "KAM00";
    UNAUTHENTICATED => 401, "PERMISSION_DENIED", "KAM00";
    BAD_REQUEST => 400, "INVALID_PARAMETER_VALUE", "KAM00";
    RESOURCE_ALREADY_EXISTS => 400, "RESOURCE_ALREADY_EXISTS", "KAM00";
    INVALID_PARAMETER_VALUE => 400, "INVALID_PARAMETER_VALUE", "KAM00";
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error with an MLflow error code and a message meant for the user.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    pub code: ErrorCode,
    pub message: String,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error {
            code,
            message: message.into(),
        }
    }
    pub fn invalid_param(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::INVALID_PARAMETER_VALUE, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::RESOURCE_DOES_NOT_EXIST, message)
    }
    pub fn already_exists(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::RESOURCE_ALREADY_EXISTS, message)
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::BAD_REQUEST, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::INTERNAL_ERROR, message)
    }
    pub fn invalid_state(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::INVALID_STATE, message)
    }
    /// `Missing value for required parameter 'x'.` as MLflow words it.
    pub fn missing(param: &str) -> Self {
        Self::invalid_param(format!(
            "Missing value for required parameter '{param}'. See the API docs for more information about request parameters."
        ))
    }
    /// The MLflow JSON error body (`error_code`, `message`, `sqlstate`, `error_class`).
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "error_code": self.code.as_str(),
            "message": self.message,
            "sqlstate": self.code.sqlstate(),
            "error_class": self.code.error_class(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_mlflow_statuses() {
        assert_eq!(ErrorCode::RESOURCE_DOES_NOT_EXIST.http_status(), 404);
        assert_eq!(ErrorCode::RESOURCE_ALREADY_EXISTS.http_status(), 400);
        assert_eq!(ErrorCode::INVALID_PARAMETER_VALUE.http_status(), 400);
        assert_eq!(ErrorCode::ENDPOINT_NOT_FOUND.http_status(), 404);
        assert_eq!(ErrorCode::PERMISSION_DENIED.http_status(), 403);
        assert_eq!(ErrorCode::UNAUTHENTICATED.http_status(), 401);
        assert_eq!(ErrorCode::INTERNAL_ERROR.http_status(), 500);
        assert_eq!(
            ErrorCode::parse("BAD_REQUEST"),
            Some(ErrorCode::BAD_REQUEST)
        );
        assert_eq!(ErrorCode::parse("nope"), None);
    }

    #[test]
    fn json_body_has_mlflow_fields() {
        let body = Error::not_found("Run with id=abc not found").to_json();
        assert_eq!(body["error_code"], "RESOURCE_DOES_NOT_EXIST");
        assert_eq!(body["error_class"], "RESOURCE_NOT_FOUND");
        assert_eq!(body["sqlstate"], "KAM00");
    }
}
