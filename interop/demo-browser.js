// demo-browser.js drives the demo page of `iobridge demo` in headless
// Chromium (the system's /usr/bin/chromium, through playwright-core; no
// browser is downloaded) for the Go test in demo_test.go.
//
// Usage: node demo-browser.js <page url> <screenshot.png>
//
// It writes JSON lines on stdout: {"type":"step","name":…} as each check
// passes, then {"type":"done",…} with what it measured, or
// {"type":"fatal","message":…} (and exits 1) when a check fails.
"use strict";

const { openPage } = require("./browser");

const [url, screenshot] = process.argv.slice(2);

function out(ev) {
  process.stdout.write(JSON.stringify(ev) + "\n");
}

async function main() {
  const { browser, page, console: console_ } = await openPage();
  try {
    await page.goto(url + "?name=Ada");
    out({ type: "step", name: "loaded", title: await page.title() });

    // Connected: the backend's connect webhook accepted the socket.
    await page.waitForSelector("#status.on");
    const status = await page.textContent("#status");
    out({ type: "step", name: "connected", status });

    // The chat joined #lobby (an ack), and a message comes back through
    // the room broadcast.
    await page.waitForSelector("#messages li.system >> text=you are in #lobby");
    await page.fill("#message", "hello from the browser test");
    await page.click("#message-form button");
    await page.waitForSelector("#messages li:not(.system) >> text=hello from the browser test");
    out({ type: "step", name: "chat" });

    // Tokens are recorded with their arrival time, to tell a stream from
    // one late burst.
    await page.evaluate(() => {
      window.__tokens = [];
      new MutationObserver((muts) => {
        for (const m of muts) for (const n of m.addedNodes) {
          if (n.classList && n.classList.contains("token")) window.__tokens.push(performance.now());
        }
      }).observe(document.querySelector("#answer"), { childList: true });
    });

    // File copy: progress pushed by the backend through /v1/emit.
    await page.click("#copy-btn");
    const progress = await page.waitForFunction(() => {
      const s = document.querySelector("#jobs li .state");
      return s && /^\d+%$/.test(s.textContent) ? s.textContent : null;
    });
    const firstProgress = await progress.jsonValue();
    out({ type: "step", name: "progress", state: firstProgress });
    await page.waitForSelector("#jobs li.complete");
    const complete = await page.textContent("#jobs li.complete .state");
    out({ type: "step", name: "complete", state: complete });

    // Assistant: the SSE answer, token by token, then the ack.
    await page.click("#ask-btn");
    await page.waitForFunction(() => /^done/.test(document.querySelector("#answer-status").textContent));
    const answer = await page.textContent("#answer");
    const answerStatus = await page.textContent("#answer-status");
    const times = await page.evaluate(() => window.__tokens);
    out({ type: "step", name: "answer" });

    // Ticker: ticker.tick instructions from the backend's SSE feed, which
    // the sidecar subscribes to; two in a row have consecutive numbers.
    await page.waitForFunction(() => Number(document.querySelector("#ticker .count").textContent) >= 2);
    const firstSeq = Number(await page.textContent("#ticker .seq"));
    await page.waitForFunction((s) => Number(document.querySelector("#ticker .seq").textContent) > s, firstSeq);
    const nextSeq = Number(await page.textContent("#ticker .seq"));
    const price = await page.textContent("#ticker .price");
    out({ type: "step", name: "ticker", firstSeq, nextSeq, price });

    // Legacy chat: the bridged namespace; the backend's WebSocket welcomes
    // the socket, broadcasts what it says and answers with an ack frame.
    await page.waitForSelector("#legacy-status.on");
    const legacyStatus = await page.textContent("#legacy-status");
    await page.waitForSelector("#legacy-messages li.system >> text=welcome");
    await page.fill("#legacy-text", "hello over the bridge");
    await page.click("#legacy-btn");
    await page.waitForSelector("#legacy-messages li:not(.system):not(.acked) >> text=hello over the bridge");
    await page.waitForSelector("#legacy-messages li.acked");
    const legacyAck = await page.textContent("#legacy-messages li.acked");
    out({ type: "step", name: "legacy", legacyStatus, legacyAck });

    await page.screenshot({ path: screenshot, fullPage: true });
    out({
      type: "done",
      status,
      firstProgress,
      complete,
      answer,
      answerStatus,
      tokens: times.length,
      spreadMs: times.length ? times[times.length - 1] - times[0] : 0,
      firstSeq,
      nextSeq,
      price,
      legacyStatus,
      legacyAck,
      console: console_,
    });
  } catch (err) {
    out({ type: "fatal", message: String(err && err.stack ? err.stack : err), console: console_ });
    process.exitCode = 1;
  } finally {
    await browser.close();
  }
}

main();
