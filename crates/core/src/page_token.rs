//! Page tokens as MLflow writes them: base64 of `{"offset": N}`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::error::{Error, Result};

pub fn encode_offset(offset: i64) -> String {
    STANDARD.encode(format!("{{\"offset\": {offset}}}"))
}

/// Decodes a page token; an empty or absent token is offset 0.
pub fn decode_offset(token: Option<&str>) -> Result<i64> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(0);
    };
    let bad = || {
        Error::invalid_param(format!(
            "Invalid page token, could not base64-decode. Token: {token}"
        ))
    };
    let bytes = STANDARD.decode(token.trim()).map_err(|_| bad())?;
    let v: serde_json::Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let offset = v.get("offset").and_then(|o| o.as_i64()).ok_or_else(|| {
        Error::invalid_param(format!(
            "Invalid page token, parsed value={v} does not contain an offset"
        ))
    })?;
    if offset < 0 {
        return Err(Error::invalid_param(format!(
            "Invalid page token, negative offset {offset}"
        )));
    }
    Ok(offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_mlflow_format() {
        assert_eq!(encode_offset(1), "eyJvZmZzZXQiOiAxfQ==");
        assert_eq!(decode_offset(Some(&encode_offset(42))).unwrap(), 42);
        assert_eq!(decode_offset(None).unwrap(), 0);
        assert_eq!(decode_offset(Some("")).unwrap(), 0);
        assert!(decode_offset(Some("!!")).is_err());
        assert!(decode_offset(Some("e30=")).is_err());
    }
}
