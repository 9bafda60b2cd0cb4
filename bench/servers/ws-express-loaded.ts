/**
 * Control for the 64 KiB echo and the idle memory: the raw ws server (`ws.ts`, unchanged) in a process
 * that has also loaded Express and made an app, never routed to. With large messages a process with a
 * framework loaded can fall into back-to-back mark-compacts (not every such process does; see
 * bench/README.md, "The 64 KiB echo"); this target shows what the framework's presence costs apart from
 * any WebSocket library.
 */
import express from "express";
import "./ws.js";

express();
