//! `zgnode compute …`: the marketplace from a user's side.

use alloy_primitives::{Address, U256};
use alloy_signer_local::PrivateKeySigner;
use anyhow::Context;

use super::compute_args::{ComputeAccount, ComputeCommand};
use crate::compute::client::{Balances, MarketClient, format_0g};
use zg_systems::compute::contracts::{IInferenceServing, ILedgerManager, INFERENCE_ADDRESS, INFERENCE_SERVICE_NAME, LEDGER_ADDRESS};

fn signer(key: &str) -> anyhow::Result<PrivateKeySigner> {
    key.trim().parse().map_err(|e| anyhow::anyhow!("--key is not a private key: {e}"))
}

/// "1.5" 0G to neuron (18 decimals); more precision, a sign or a unit is refused.
fn amount(text: &str) -> anyhow::Result<U256> {
    // parse_ether would drop digits past the 18th without a word.
    if let Some((_, fraction)) = text.trim().split_once('.') {
        anyhow::ensure!(fraction.len() <= 18, "{text:?} is not an amount of 0G (at most 18 decimals)");
    }
    let value = alloy_primitives::utils::parse_ether(text.trim()).map_err(|e| anyhow::anyhow!("{text:?} is not an amount of 0G ({e})"))?;
    anyhow::ensure!(!value.is_zero(), "the amount must be more than 0");
    Ok(value)
}

fn open(account: &ComputeAccount) -> anyhow::Result<(MarketClient, PrivateKeySigner)> {
    Ok((MarketClient::new(&account.rpc)?, signer(&account.key)?))
}

pub(super) async fn compute(command: ComputeCommand) -> anyhow::Result<()> {
    match command {
        ComputeCommand::Balance { user, rpc, key } => {
            let user: Address = match (user, key) {
                (Some(user), _) => user,
                (None, Some(key)) => signer(&key)?.address(),
                (None, None) => anyhow::bail!("say whose balances: --user ADDRESS or --key (ZG_PRIVATE_KEY)"),
            };
            print_balances(&MarketClient::new(&rpc)?, user).await?;
        }
        ComputeCommand::Deposit { amount: text, account } => {
            let (client, key) = open(&account)?;
            let value = amount(&text)?;
            let hash = if client.ledger(key.address()).await?.is_some() {
                client.send(&key, LEDGER_ADDRESS, &ILedgerManager::depositFundCall {}, value).await?
            } else {
                client.send(&key, LEDGER_ADDRESS, &ILedgerManager::addLedgerCall { additionalInfo: String::new() }, value).await?
            };
            println!("deposited {} 0G (tx {hash})", format_0g(value));
            print_balances(&client, key.address()).await?;
        }
        ComputeCommand::Transfer { provider, amount: text, account } => {
            let (client, key) = open(&account)?;
            let value = amount(&text)?;
            anyhow::ensure!(
                client.service(provider).await?.is_some(),
                "{provider} offers no inference service (`zgnode compute providers` lists those that do)"
            );
            let call = ILedgerManager::transferFundCall { provider, serviceName: INFERENCE_SERVICE_NAME.into(), amount: value };
            let hash = client.send(&key, LEDGER_ADDRESS, &call, U256::ZERO).await?;
            println!("moved {} 0G into provider {provider}'s sub-account (tx {hash})", format_0g(value));
            if client.account(key.address(), provider).await?.is_some_and(|a| !a.acknowledged) {
                let acknowledge = IInferenceServing::acknowledgeTEESignerCall { provider, acknowledged: true };
                let hash = client.send(&key, INFERENCE_ADDRESS, &acknowledge, U256::ZERO).await?;
                println!("acknowledged provider {provider}'s signer (tx {hash}): it may now settle your requests");
            }
            print_balances(&client, key.address()).await?;
        }
        ComputeCommand::Retrieve { account } => {
            let (client, key) = open(&account)?;
            let balances = client.balances(key.address()).await?;
            let providers: Vec<Address> = balances.sub_accounts.iter().map(|a| a.provider).collect();
            anyhow::ensure!(!providers.is_empty(), "no provider sub-accounts to retrieve from");
            let available_before = balances.ledger.as_ref().map(|l| l.availableBalance).unwrap_or_default();
            let call = ILedgerManager::retrieveFundCall { providers, serviceName: INFERENCE_SERVICE_NAME.into() };
            let hash = client.send(&key, LEDGER_ADDRESS, &call, U256::ZERO).await?;
            let after = client.balances(key.address()).await?;
            let returned = after.ledger.as_ref().map(|l| l.availableBalance).unwrap_or_default().saturating_sub(available_before);
            println!(
                "retrieve sent (tx {hash}): {} 0G back in the ledger now; refunds younger than the lock time ({} s) come back when you run this again after it",
                format_0g(returned),
                after.lock_time_secs
            );
            show_balances(key.address(), &after);
        }
        ComputeCommand::Refund { amount: text, account } => {
            let (client, key) = open(&account)?;
            let value = amount(&text)?;
            let hash = client.send(&key, LEDGER_ADDRESS, &ILedgerManager::refundCall { amount: value }, U256::ZERO).await?;
            println!("withdrew {} 0G to {} (tx {hash})", format_0g(value), key.address());
            print_balances(&client, key.address()).await?;
        }
        ComputeCommand::Ask { prompt, provider, max_tokens, account } => {
            let (client, key) = open(&account)?;
            use std::io::Write;
            let answer = crate::compute::ask::ask(&client, &key, provider, &prompt, max_tokens, |piece| {
                print!("{piece}");
                let _ = std::io::stdout().flush();
            })
            .await?;
            println!();
            println!(
                "chat {}: {} prompt + {} completion tokens, fee {} 0G; response signed by {} (the service's acknowledged signer)",
                answer.chat_id,
                answer.usage.prompt_tokens,
                answer.usage.completion_tokens,
                format_0g(answer.fee),
                answer.signer
            );
        }
        ComputeCommand::Serve { config } => {
            let text = std::fs::read_to_string(&config).with_context(|| format!("reading {}", config.display()))?;
            let config = crate::compute::provider::config::ProviderConfig::parse(&text).map_err(|e| anyhow::anyhow!("{}: {e}", config.display()))?;
            let handle = crate::compute::provider::start(config).await?;
            let state = &handle.state;
            println!("compute provider {} serving {} at http://{}", state.provider, state.backend.model(), handle.addr);
            println!("registered as {} (signer {}); settles every {} s", state.url, state.signer.address(), state.config.settle_interval_secs);
            super::serve::shutdown_signal().await;
            handle.stop().await;
        }
        ComputeCommand::VerifiedDeposit { amount: text, account } => {
            let (client, key) = open(&account)?;
            let value = amount(&text)?;
            let hash = crate::compute::verifiable::client::deposit(&client, &key, value).await?;
            println!("deposited {} 0G for verifiable requests (tx {hash})", format_0g(value));
        }
        ComputeCommand::VerifiedAsk { provider_url, digit, input, nonce, save, account } => {
            let (client, key) = open(&account)?;
            super::verified::ask(&client, &key, &provider_url, digit, input.as_deref(), nonce, save.as_deref()).await?;
        }
        ComputeCommand::ReportWrong { answer, account } => {
            let (client, key) = open(&account)?;
            super::verified::report(&client, &key, &answer).await?;
        }
        ComputeCommand::TinyModel { dir } => {
            crate::compute::backend::llama::tiny::write(&dir).with_context(|| format!("writing {}", dir.display()))?;
            println!("wrote the tiny Llama model ({}) to {}", crate::compute::backend::llama::tiny::TINY_MODEL_NAME, dir.display());
        }
        ComputeCommand::Providers { rpc } => {
            let providers = MarketClient::new(&rpc)?.ranked_providers().await.context("asking the node to rank providers (compute_providers)")?;
            if providers.is_empty() {
                println!("no inference services on offer");
            }
            for p in providers {
                println!(
                    "{}  model {}  {}  input {} / output {} neuron per token  {}  {} settlements from {} paying users{}",
                    p.provider,
                    p.model,
                    p.url,
                    p.input_price,
                    p.output_price,
                    p.latency_ms.map_or("unreachable".to_string(), |ms| format!("{ms} ms")),
                    p.settlements,
                    p.paying_users,
                    if p.signer_acknowledged { "" } else { "  (signer NOT acknowledged by the owner: the SDK will not use it)" }
                );
            }
        }
    }
    Ok(())
}

async fn print_balances(client: &MarketClient, user: Address) -> anyhow::Result<()> {
    show_balances(user, &client.balances(user).await.context("reading the ledger")?);
    Ok(())
}

fn show_balances(user: Address, balances: &Balances) {
    let Some(ledger) = &balances.ledger else {
        println!("{user} has no ledger: `zgnode compute deposit 3` opens one");
        return;
    };
    let in_sub_accounts = ledger.totalBalance.saturating_sub(ledger.availableBalance);
    println!("ledger of {user}");
    println!("  available      {:>24} 0G  (transfer to a provider, or refund to the wallet)", format_0g(ledger.availableBalance));
    println!("  in sub-accounts{:>24} 0G  (held for providers; `zgnode compute retrieve` asks for it back)", format_0g(in_sub_accounts));
    println!("  total          {:>24} 0G", format_0g(ledger.totalBalance));
    for account in &balances.sub_accounts {
        println!(
            "  provider {}: {} 0G, of which {} 0G is being refunded (back {} s after each request){}",
            account.provider,
            format_0g(account.balance),
            format_0g(account.pendingRefund),
            balances.lock_time_secs,
            if account.acknowledged { "" } else { "; signer not acknowledged yet" }
        );
    }
}
