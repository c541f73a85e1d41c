"""web3.py against `zgnode dev`: state at older blocks, create_filter and block filters, the
unlocked dev accounts (send_transaction), eth_getProof. Usage: python parity_web3.py URL."""

import json
import pathlib
import sys
import time

from web3 import Web3

URL = sys.argv[1]
ARTIFACT = json.loads((pathlib.Path(__file__).parent / "../../assets/contracts/ZgToken.json").read_text())


def step(name):
    print(f"ok - {name}", flush=True)


w3 = Web3(Web3.HTTPProvider(URL))
me = w3.eth.accounts[0]
assert len(w3.eth.accounts) == 10
wait = lambda tx_hash: w3.eth.wait_for_transaction_receipt(tx_hash, timeout=20, poll_latency=0.05)

# Unlocked dev accounts: the node fills and signs.
receipt = wait(w3.eth.contract(abi=ARTIFACT["abi"], bytecode=ARTIFACT["bytecode"]).constructor("Py", "PY", 10**24).transact({"from": me}))
assert receipt.status == 1
token = w3.eth.contract(address=receipt.contractAddress, abi=ARTIFACT["abi"])
step("web3.py: deployed from an unlocked dev account (eth_sendTransaction)")

transfers = token.events.Transfer.create_filter(from_block="latest")
blocks = w3.eth.filter("latest")
bob = w3.eth.account.create().address
sent = wait(token.functions.transfer(bob, 500).transact({"from": me}))
entries = transfers.get_new_entries()
assert len(entries) == 1 and entries[0].args.value == 500, entries
assert sent.blockHash in blocks.get_new_entries()
assert w3.eth.uninstall_filter(transfers.filter_id)
step("web3.py: create_filter and block filters")

assert token.functions.balanceOf(bob).call(block_identifier=sent.blockNumber - 1) == 0
assert token.functions.balanceOf(bob).call(block_identifier=sent.blockNumber) == 500
before = w3.eth.get_balance(me, block_identifier=sent.blockNumber - 1)
after = w3.eth.get_balance(me, block_identifier=sent.blockNumber)
assert before - after == sent.gasUsed * sent.effectiveGasPrice
step("web3.py: calls and balances at older blocks")

proof = w3.eth.get_proof(token.address, [], "latest")
assert len(proof.accountProof) > 0 and proof.nonce == 1
step("web3.py: eth_getProof")
print("all web3.py parity checks passed")
