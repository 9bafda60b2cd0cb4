/**
 * uWebSockets.js (the @trufflesuite/uws-js-unofficial build, which ships prebuilt binaries) as its
 * examples show: `app.ws(pattern, behavior)`, auth in the `upgrade` handler (401 before the
 * upgrade), broadcast with topics (`subscribe` + `app.publish`), heartbeat by `idleTimeout` with
 * automatic pings. The native reference.
 */
import uWS from "@trufflesuite/uws-js-unofficial";
import { announce, MAX_MESSAGE_SIZE, settingsFromEnv, userFromAuthorization, type BenchUser } from "./contract.js";

const { compression } = settingsFromEnv();
const app = uWS.App();

const common = {
  maxPayloadLength: MAX_MESSAGE_SIZE,
  // Large enough that flow-controlled scenarios never hit it (beyond it uWS drops or closes).
  maxBackpressure: 4 * MAX_MESSAGE_SIZE,
  idleTimeout: 60,
  sendPingsAutomatically: true,
  compression: compression ? uWS.SHARED_COMPRESSOR : uWS.DISABLED,
};

app.ws("/echo", {
  ...common,
  message: (ws, message, isBinary) => {
    ws.send(message, isBinary);
  },
});

app.ws("/bcast", {
  ...common,
  open: (ws) => {
    ws.subscribe("bcast");
  },
  message: (_ws, message, isBinary) => {
    app.publish("bcast", message, isBinary, true);
  },
});

app.ws<{ user: BenchUser }>("/auth", {
  ...common,
  upgrade: (res, req, context) => {
    const user = userFromAuthorization(req.getHeader("authorization"));
    if (!user) {
      res.writeStatus("401 Unauthorized").end();
      return;
    }
    res.upgrade(
      { user },
      req.getHeader("sec-websocket-key"),
      req.getHeader("sec-websocket-protocol"),
      req.getHeader("sec-websocket-extensions"),
      context,
    );
  },
});

app.any("/*", (res) => {
  res.writeStatus("404 Not Found").end();
});

app.listen("127.0.0.1", 0, (token) => {
  if (!token) {
    console.error("uWS: listen failed");
    process.exit(1);
  }
  announce(uWS.us_socket_local_port(token));
});
