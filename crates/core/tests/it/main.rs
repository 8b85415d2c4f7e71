//! Properties of the search language: any input parses or is refused with
//! INVALID_PARAMETER_VALUE, never a panic; and what parses, evaluates.

use ferroflow_core::ErrorCode;
use ferroflow_core::search::experiments::{parse_experiment_filter, parse_experiment_order_by};
use ferroflow_core::search::logged_models::parse_logged_model_filter;
use ferroflow_core::search::runs::{parse_run_filter, parse_run_order_by};
use ferroflow_core::search::{parse_filter, parse_order_by};
use proptest::prelude::*;

/// Strings made of the language's own pieces, so that the parser gets past its first token.
fn filterish() -> impl Strategy<Value = String> {
    let atom = prop_oneof![
        Just("metrics.rmse".to_string()),
        Just("params.alpha".to_string()),
        Just("tags.`a b`".to_string()),
        Just("attributes.status".to_string()),
        Just("datasets.name".to_string()),
        Just("run_name".to_string()),
        Just("=".to_string()),
        Just("!=".to_string()),
        Just("<".to_string()),
        Just(">=".to_string()),
        Just("LIKE".to_string()),
        Just("ILIKE".to_string()),
        Just("IN".to_string()),
        Just("NOT".to_string()),
        Just("IS".to_string()),
        Just("NULL".to_string()),
        Just("AND".to_string()),
        Just("OR".to_string()),
        Just("(".to_string()),
        Just(")".to_string()),
        Just(",".to_string()),
        Just("'x'".to_string()),
        Just("\"y\"".to_string()),
        Just("'unterminated".to_string()),
        Just("1.5e3".to_string()),
        Just("-2".to_string()),
        "[a-z_.]{1,8}".prop_map(|s| s),
    ];
    proptest::collection::vec(atom, 0..12).prop_map(|v| v.join(" "))
}

fn refused_cleanly(e: &ferroflow_core::Error) -> bool {
    e.code == ErrorCode::INVALID_PARAMETER_VALUE && !e.message.is_empty()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn any_string_parses_or_is_refused(s in any::<String>()) {
        if let Err(e) = parse_filter(&s) { prop_assert!(refused_cleanly(&e)); }
        if let Err(e) = parse_order_by(&s) { prop_assert!(refused_cleanly(&e)); }
    }

    #[test]
    fn language_like_strings_parse_or_are_refused(s in filterish()) {
        for r in [parse_run_filter(&s).map(|_| ()), parse_experiment_filter(&s).map(|_| ()), parse_logged_model_filter(&s).map(|_| ())] {
            if let Err(e) = r { prop_assert!(refused_cleanly(&e), "{s}: {e:?}"); }
        }
        if let Err(e) = parse_run_order_by(std::slice::from_ref(&s)) { prop_assert!(refused_cleanly(&e)); }
        if let Err(e) = parse_experiment_order_by(std::slice::from_ref(&s)) { prop_assert!(refused_cleanly(&e)); }
    }
}

#[test]
fn deep_nesting_is_refused_not_overflowed() {
    let deep = format!("{}metrics.a > 1{}", "(".repeat(10_000), ")".repeat(10_000));
    let e = parse_filter(&deep).unwrap_err();
    assert_eq!(e.code, ErrorCode::INVALID_PARAMETER_VALUE);
    let long_or = vec!["metrics.a > 1"; 5_000].join(" OR ");
    assert!(parse_filter(&long_or).is_ok());
}
