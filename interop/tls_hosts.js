// tls_hosts.js is preloaded (node --require) by the TLS interop tests: it
// resolves every name under .test to 127.0.0.1, where the sidecar under
// test listens, so the client connects to https://sidecar.test:PORT and
// checks the certificate against that name.
"use strict";

const dns = require("node:dns");

const lookup = dns.lookup;
dns.lookup = function (hostname, options, callback) {
  if (typeof options === "function") {
    callback = options;
    options = {};
  }
  if (typeof options === "number") options = { family: options };
  if (typeof hostname === "string" && hostname.endsWith(".test")) {
    if (options && options.all) {
      return process.nextTick(callback, null, [{ address: "127.0.0.1", family: 4 }]);
    }
    return process.nextTick(callback, null, "127.0.0.1", 4);
  }
  return lookup.call(this, hostname, options, callback);
};
