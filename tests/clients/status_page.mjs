// Opens zgnode's status page in headless Chromium over the DevTools protocol and reports what a
// person would see: that it updates live (the height advances), the DA blob and file counts,
// whether it fits a phone's width, and every console error, exception or failed load.
// Usage: node status_page.mjs URL SCREENSHOT_PREFIX [CHROMIUM]
// Prints "watching" once the first update is drawn (the test then submits a blob and a file),
// then one JSON line with the result. Screenshots: PREFIX-desktop.png and PREFIX-phone.png.
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import WebSocket from "ws";

const [url, shots, chromium = "chromium"] = process.argv.slice(2);
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const profile = fs.mkdtempSync(path.join(os.tmpdir(), "zg-chromium-"));
const browser = spawn(chromium, [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--no-default-browser-check",
  "--remote-debugging-port=0", `--user-data-dir=${profile}`, "--window-size=1280,1600", "about:blank",
], { stdio: ["ignore", "ignore", "ignore"] });
const finish = (code) => {
  browser.kill("SIGKILL");
  fs.rmSync(profile, { recursive: true, force: true });
  process.exit(code);
};
const until = async (what, check, ms) => {
  const end = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(250);
  }
};

try {
  const portFile = path.join(profile, "DevToolsActivePort");
  await until("Chromium's DevTools port", () => fs.existsSync(portFile) && fs.readFileSync(portFile, "utf8").includes("\n"), 30000);
  const port = fs.readFileSync(portFile, "utf8").split("\n")[0];
  const targets = await (await fetch(`http://127.0.0.1:${port}/json/list`)).json();
  const ws = new WebSocket(targets.find((t) => t.type === "page").webSocketDebuggerUrl);
  await new Promise((resolve, reject) => { ws.once("open", resolve); ws.once("error", reject); });
  let nextId = 0;
  const pending = new Map();
  const problems = [];
  ws.on("message", (data) => {
    const message = JSON.parse(data);
    if (message.id !== undefined) {
      const waiter = pending.get(message.id);
      pending.delete(message.id);
      if (message.error) waiter.reject(new Error(JSON.stringify(message.error)));
      else waiter.resolve(message.result);
    } else if (message.method === "Runtime.consoleAPICalled" && ["error", "warning", "assert"].includes(message.params.type)) {
      problems.push(`console.${message.params.type}: ${message.params.args.map((a) => a.value ?? a.description).join(" ")}`);
    } else if (message.method === "Runtime.exceptionThrown") {
      problems.push(`exception: ${message.params.exceptionDetails.exception?.description ?? message.params.exceptionDetails.text}`);
    } else if (message.method === "Log.entryAdded" && ["error", "warning"].includes(message.params.entry.level)) {
      problems.push(`${message.params.entry.source} ${message.params.entry.level}: ${message.params.entry.text} ${message.params.entry.url ?? ""}`);
    }
  });
  const send = (method, params = {}) => new Promise((resolve, reject) => {
    const id = ++nextId;
    pending.set(id, { resolve, reject });
    ws.send(JSON.stringify({ id, method, params }));
  });
  const look = async () => {
    const expression = `JSON.stringify({ ...document.body.dataset,
      blobs: document.getElementById("da-blobs")?.textContent ?? null,
      files: document.getElementById("storage-files")?.textContent ?? null,
      fitsWidth: document.documentElement.scrollWidth <= window.innerWidth })`;
    const answer = await send("Runtime.evaluate", { expression, returnByValue: true });
    return typeof answer.result.value === "string" ? JSON.parse(answer.result.value) : {}; // the page is still loading
  };
  const count = (text) => (text == null ? -1 : Number(String(text).replaceAll(",", "")));
  await send("Runtime.enable");
  await send("Log.enable");
  await send("Page.enable");
  await send("Page.navigate", { url });
  const first = await until("the first update", async () => { const s = await look(); return Number(s.updates) >= 1 && s; }, 30000);
  console.log("watching");
  const advanced = await until("the height to advance", async () => { const s = await look(); return Number(s.height) > Number(s.firstHeight) && s; }, 30000);
  const seen = await until("a DA blob and a file", async () => { const s = await look(); return count(s.blobs) >= 1 && count(s.files) >= 1 && s; }, 120000);
  const shot = async (name) => fs.writeFileSync(`${shots}-${name}.png`, Buffer.from((await send("Page.captureScreenshot", { format: "png", captureBeyondViewport: true })).data, "base64"));
  await shot("desktop");
  await send("Emulation.setDeviceMetricsOverride", { width: 390, height: 844, deviceScaleFactor: 2, mobile: true });
  await sleep(1500);
  const phone = await look();
  await shot("phone");
  console.log(JSON.stringify({ first, advanced, seen, phone, problems }));
  finish(0);
} catch (error) {
  console.log(JSON.stringify({ failure: String(error.stack || error) }));
  finish(1);
}
