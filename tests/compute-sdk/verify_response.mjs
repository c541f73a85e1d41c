// Checks a provider's signed response the way 0G's SDK does in processResponse
// (Verifier.verifySignature: recoverAddress(hashMessage(text), signature) == signer).
// Usage: node verify_response.mjs <json {text, signature}> <expected signer>
import { ethers } from "ethers";

const [body, expected] = process.argv.slice(2);
const { text, signature } = JSON.parse(body);
const recovered = ethers.recoverAddress(ethers.hashMessage(text), signature);
if (recovered.toLowerCase() !== expected.toLowerCase()) {
  console.error(`recovered ${recovered}, expected ${expected}`);
  process.exit(1);
}
console.log("signature verified as the SDK does");
