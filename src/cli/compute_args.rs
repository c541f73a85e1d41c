//! `zgnode compute …` arguments.

use clap::{Args, Subcommand};
use std::path::PathBuf;

/// The chain's JSON-RPC and the paying account, for `zgnode compute`.
#[derive(Args, Debug, Clone)]
pub struct ComputeAccount {
    /// The chain's JSON-RPC.
    #[arg(long, default_value = "http://127.0.0.1:8545")]
    pub rpc: String,
    /// The account's private key (hex); or set ZG_PRIVATE_KEY. `zgnode dev` prints its keys.
    #[arg(long, env = "ZG_PRIVATE_KEY", hide_env_values = true)]
    pub key: String,
}

#[derive(Subcommand, Debug)]
pub enum ComputeCommand {
    /// The ledger: its available balance (yours to transfer or refund), what sits in each
    /// provider's sub-account (spent by that provider's settlements, or retrieved after the
    /// lock time), and the total.
    Balance {
        /// Whose balances (default: the account of --key).
        #[arg(long)]
        user: Option<alloy_primitives::Address>,
        #[arg(long, default_value = "http://127.0.0.1:8545")]
        rpc: String,
        #[arg(long, env = "ZG_PRIVATE_KEY", hide_env_values = true)]
        key: Option<String>,
    },
    /// Deposit AMOUNT 0G into the ledger (opening it takes at least 3 0G).
    Deposit {
        amount: String,
        #[command(flatten)]
        account: ComputeAccount,
    },
    /// Move AMOUNT 0G of the ledger's available balance into PROVIDER's inference sub-account
    /// (a new sub-account takes at least 1 0G); a refund waiting there is cancelled first.
    Transfer {
        provider: alloy_primitives::Address,
        amount: String,
        #[command(flatten)]
        account: ComputeAccount,
    },
    /// Ask every inference sub-account for its money back: it returns to the ledger's available
    /// balance after the lock time (run it again then to collect).
    Retrieve {
        #[command(flatten)]
        account: ComputeAccount,
    },
    /// Withdraw AMOUNT 0G of the ledger's available balance to the wallet.
    Refund {
        amount: String,
        #[command(flatten)]
        account: ComputeAccount,
    },
    /// The inference services on offer, cheapest first.
    Providers {
        #[arg(long, default_value = "http://127.0.0.1:8545")]
        rpc: String,
    },
    /// Ask PROVIDER's model: signs a request token as 0G's SDK does, streams the answer, then
    /// checks the provider's signature over it and prints the metered tokens and fee.
    Ask {
        prompt: String,
        #[arg(long)]
        provider: alloy_primitives::Address,
        /// The completion budget in tokens.
        #[arg(long, default_value_t = 64)]
        max_tokens: u32,
        #[command(flatten)]
        account: ComputeAccount,
    },
    /// Run a provider: register its service on chain, serve 0G's provider API, settle fees
    /// (see docs in the README for the config file).
    Serve {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Deposit AMOUNT 0G for verifiable (proved) requests, in the VerifiedInference contract.
    VerifiedDeposit {
        amount: String,
        #[command(flatten)]
        account: ComputeAccount,
    },
    /// Ask a verifiable service for one inference with a halo2 proof: signs the request
    /// (private input, its Poseidon commitment, a nonce, the fee), then checks the provider's
    /// signature and the proof through the chain's ModelRegistry.
    VerifiedAsk {
        /// The provider's HTTP address (`zgnode dev` prints its own).
        #[arg(long)]
        provider_url: String,
        /// One of the reference model's held-out digits (0-359) as the input.
        #[arg(long, conflicts_with = "input")]
        digit: Option<usize>,
        /// The input: 64 comma-separated integers in -128..=127.
        #[arg(long)]
        input: Option<String>,
        /// The request's nonce (default: the time in microseconds, always increasing).
        #[arg(long)]
        nonce: Option<u64>,
        /// Write the answer (request, logits, proof, the provider's signature) here as JSON,
        /// the evidence `report-wrong` sends.
        #[arg(long)]
        save: Option<PathBuf>,
        #[command(flatten)]
        account: ComputeAccount,
    },
    /// Send a saved answer whose proof does not verify as evidence: the provider that signed it
    /// loses its stake (half to you).
    ReportWrong {
        answer: PathBuf,
        #[command(flatten)]
        account: ComputeAccount,
    },
    /// Write the generated tiny Llama model (config.json, tokenizer.json, model.safetensors)
    /// into DIR, the same bytes on every machine.
    TinyModel { dir: PathBuf },
}
