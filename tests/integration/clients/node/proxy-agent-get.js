// GET one URL as Node code behind a company proxy usually does: the `proxy-agent`
// package, which takes the proxy from http_proxy/https_proxy/no_proxy (proxy-from-env)
// and speaks HTTP proxies (Basic from the proxy URL), CONNECT, SOCKS and PAC; given only
// a PAC's URL (auto_proxy, as Chromium reads it), that PAC, as `pac+URL`. CAs from
// NODE_EXTRA_CA_CERTS. Exit 0 on a 2xx answer, 1 on another status, 2 when no answer
// came within 5 s.
"use strict";
const http = require("http");
const https = require("https");
const { ProxyAgent } = require("proxy-agent");

const url = new URL(process.argv[2]);
const pac = process.env.auto_proxy;
const agent = pac ? new ProxyAgent({ getProxyForUrl: () => "pac+" + pac }) : new ProxyAgent();
const request = (url.protocol === "https:" ? https : http).get(url, { agent }, (response) => {
  response.resume();
  response.on("end", () => {
    if (response.statusCode < 200 || response.statusCode > 299) {
      console.error(`HTTP ${response.statusCode}`);
      process.exit(1);
    }
    process.exit(0);
  });
  response.on("error", (error) => { console.error(String(error)); process.exit(2); });
});
request.setTimeout(5000, () => request.destroy(new Error("no answer within 5 s")));
request.on("error", (error) => { console.error(String(error)); process.exit(2); });
