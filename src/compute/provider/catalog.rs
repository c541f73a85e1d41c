//! How the service describes itself: the `additionalInfo` registered on chain (0G's JSON, read
//! by the SDK's `parseTieredPricing`) and the model entry of `/v1/models` (0G's
//! `ProviderModelInfo`). Both come from the config, so what is advertised is what is billed.

use serde_json::{Value, json};

use super::ProviderState;
use super::config::ProviderConfig;

/// The service's `additionalInfo`: its price tiers when it has any, else `{}`.
pub fn additional_info(config: &ProviderConfig) -> String {
    if config.tiered_pricing.is_empty() {
        return "{}".into();
    }
    let tiers: Vec<Value> = config
        .tiered_pricing
        .iter()
        .map(|t| {
            json!({
                "maxInputTokens": t.max_input_tokens,
                "inputMultiplier": t.input_multiplier,
                "inputMultiplierDenominator": t.input_multiplier_denominator,
                "outputMultiplier": t.output_multiplier,
                "outputMultiplierDenominator": t.output_multiplier_denominator,
            })
        })
        .collect();
    json!({ "tieredPricing": { "tiers": tiers } }).to_string()
}

/// The one model this provider serves, as `/v1/models` lists it.
pub fn model_info(state: &ProviderState) -> Value {
    let config = &state.config;
    let tiers: Vec<Value> = config
        .tiered_pricing
        .iter()
        .map(|t| {
            json!({
                "max_input_tokens": t.max_input_tokens,
                "input_multiplier": t.input_multiplier,
                "input_multiplier_denominator": t.input_multiplier_denominator,
                "output_multiplier": t.output_multiplier,
                "output_multiplier_denominator": t.output_multiplier_denominator,
            })
        })
        .collect();
    let mut pricing = json!({ "prompt": state.input_price.to_string(), "completion": state.output_price.to_string() });
    if !tiers.is_empty() {
        pricing["tiered_pricing"] = Value::Array(tiers);
    }
    json!({
        "id": state.backend.model(),
        "object": "model",
        "owned_by": state.provider,
        "provider": state.provider,
        "name": state.backend.model(),
        "type": "chatbot",
        "max_completion_tokens": config.max_tokens,
        "architecture": { "modality": "text->text", "input_modalities": ["text"], "output_modalities": ["text"] },
        "supported_parameters": ["max_tokens", "max_completion_tokens", "temperature", "seed", "stream"],
        "pricing": pricing,
        "verifiability": config.verifiability,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_are_advertised_in_the_sdks_field_names_or_not_at_all() {
        let mut config = crate::compute::dev_provider::dev_config("http://127.0.0.1:1", "127.0.0.1:0".parse().unwrap(), std::path::Path::new("/tmp"));
        let info: Value = serde_json::from_str(&additional_info(&config)).unwrap();
        let tiers = info["tieredPricing"]["tiers"].as_array().unwrap();
        assert_eq!(tiers.len(), 2);
        assert_eq!((tiers[1]["maxInputTokens"].as_u64(), tiers[1]["inputMultiplier"].as_u64(), tiers[1]["inputMultiplierDenominator"].as_u64()), (Some(0), Some(3), Some(2)));
        config.tiered_pricing.clear();
        assert_eq!(additional_info(&config), "{}");
    }
}
