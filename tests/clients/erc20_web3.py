"""Drives a running zgnode with web3.py, unchanged: deploy the ERC-20, transfer, read a revert
reason and events. Usage: python erc20_web3.py http://127.0.0.1:PORT (exits non-zero on failure)."""

import json
import pathlib
import sys

from web3 import Web3
from web3.exceptions import ContractLogicError

URL = sys.argv[1]
ARTIFACT = json.loads((pathlib.Path(__file__).parent / "../../assets/contracts/ZgToken.json").read_text())
DEPLOYER = "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80"
ALICE = "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d"


def step(name):
    print(f"ok - {name}", flush=True)


w3 = Web3(Web3.HTTPProvider(URL))
assert w3.is_connected(), "not connected"
assert w3.eth.chain_id == 31337
deployer = w3.eth.account.from_key(DEPLOYER)
alice = w3.eth.account.from_key(ALICE)
assert w3.eth.get_balance(alice.address) == Web3.to_wei(10_000, "ether")
step("web3.py: connected, chain id 31337, dev account funded")


def send(tx, key):
    signed = w3.eth.account.sign_transaction(tx, key)
    tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
    return w3.eth.wait_for_transaction_receipt(tx_hash, timeout=20, poll_latency=0.05)


token_factory = w3.eth.contract(abi=ARTIFACT["abi"], bytecode=ARTIFACT["bytecode"])
nonce = w3.eth.get_transaction_count(deployer.address, "pending")
deploy = token_factory.constructor("Web3 Token", "W3T", 10**24).build_transaction({"from": deployer.address, "nonce": nonce})
receipt = send(deploy, DEPLOYER)
assert receipt.status == 1, receipt
token = w3.eth.contract(address=receipt.contractAddress, abi=ARTIFACT["abi"])
assert token.functions.symbol().call() == "W3T"
step(f"web3.py: ERC-20 deployed at {receipt.contractAddress}")

transfer = token.functions.transfer(alice.address, 250).build_transaction({"from": deployer.address, "nonce": nonce + 1})
receipt = send(transfer, DEPLOYER)
assert receipt.status == 1
assert token.functions.balanceOf(alice.address).call() == 250
step("web3.py: transfer mined, balance read")

try:
    token.functions.transfer(deployer.address, 10**30).call({"from": alice.address})
    raise AssertionError("expected a revert")
except ContractLogicError as error:
    assert "ZgToken: balance too low" in str(error), error
step("web3.py: revert reason surfaced as ContractLogicError")

events = token.events.Transfer().get_logs(from_block=0)
assert [e.args.value for e in events] == [10**24, 250], events
assert events[1].args.to == alice.address
step("web3.py: Transfer events from eth_getLogs")

block = w3.eth.get_block("latest", full_transactions=False)
assert block.number >= receipt.blockNumber
history = w3.eth.fee_history(3, "latest", [50])
assert len(history.baseFeePerGas) == 4
step("web3.py: blocks and fee history")
print("all web3.py checks passed")
