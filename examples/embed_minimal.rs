//! The smallest embedding: a dev node the host ticks, a transfer, its receipt.
use alloy_primitives::{U256, address};
use zgnode::{NodeBuilder, TxRequest, dev::dev_accounts, node::now_ms};

fn main() -> anyhow::Result<()> {
    let (mut node, chain) = NodeBuilder::dev().block_time(std::time::Duration::ZERO).build()?;
    let (alice, bob) = (dev_accounts()[0].address, address!("0x000000000000000000000000000000000000b0b0"));
    let sent = chain.send(alice, TxRequest::transfer(bob, U256::from(10u64.pow(18))))?;
    node.tick(now_ms())?; // admits it, seals a block (automine) and commits it, in this call
    let receipt = chain.receipt(sent.hash())?.ok_or_else(|| anyhow::anyhow!("not mined"))?;
    println!("block {} success {} gas {}; bob holds {} wei", receipt.block_number, receipt.success, receipt.gas_used, chain.balance(bob)?);
    Ok(())
}
