/**
 * The example's page: a plain browser WebSocket speaking the events protocol (docs/protocol.md) by
 * hand, to show that no client library is needed. Each process serves the same page.
 */
export function page(processLabel: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>wsmount cluster chat (${processLabel})</title>
<style>body{font:15px system-ui;margin:2em;max-width:40em}#log{border:1px solid #ccc;height:20em;overflow:auto;padding:.5em}</style></head>
<body><h1>Chat, served by process ${processLabel}</h1>
<p>Open this page on other ports of the cluster: everyone in a room sees every message. <code>?name=ann&amp;room=lobby</code> joins at once.</p>
<form id="join"><input id="name" placeholder="name" required> <input id="room" value="lobby" required> <button>join</button></form>
<div id="log"></div>
<form id="say"><input id="text" placeholder="message" size="50" autocomplete="off"> <button>send</button></form>
<script>
const log = (text) => { const p = document.createElement("div"); p.textContent = text; document.getElementById("log").append(p); };
const socket = new WebSocket(location.origin.replace(/^http/, "ws") + "/chat");
let next = 1; const waiting = new Map();
const call = (name, data) => new Promise((resolve, reject) => { const id = next++; waiting.set(id, { resolve, reject }); socket.send("wsm1" + JSON.stringify(["c", id, name, data])); });
socket.onmessage = ({ data }) => {
  const [type, ...rest] = JSON.parse(data.slice(4));
  if (type === "w") log("connected as " + rest[0].id);
  if (type === "a" || type === "x") { const w = waiting.get(rest[0]); waiting.delete(rest[0]); type === "a" ? w.resolve(rest[1]) : w.reject(new Error(rest[1].message)); }
  if (type === "e" && rest[0] === "joined") log(rest[1].name + " joined " + rest[1].room + " (on " + rest[1].process + ")");
  if (type === "e" && rest[0] === "said") log(rest[1].name + ": " + rest[1].text + "  [via " + rest[1].process + "]");
  if (type === "c" && rest[1] === "dm") { log("dm from " + rest[2].from + ": " + rest[2].text); socket.send("wsm1" + JSON.stringify(["a", rest[0], "read"])); }
};
document.getElementById("join").onsubmit = async (event) => { event.preventDefault();
  const answer = await call("join", { name: document.getElementById("name").value, room: document.getElementById("room").value });
  log("room has " + answer.members + " member(s) across the cluster"); };
// /?name=ann&room=lobby joins at once.
const query = new URLSearchParams(location.search);
if (query.get("name")) { document.getElementById("name").value = query.get("name"); document.getElementById("room").value = query.get("room") || "lobby";
  socket.addEventListener("open", () => document.getElementById("join").requestSubmit()); }
document.getElementById("say").onsubmit = (event) => { event.preventDefault(); const input = document.getElementById("text");
  socket.send("wsm1" + JSON.stringify(["e", "say", input.value])); input.value = ""; };
</script></body></html>`;
}
