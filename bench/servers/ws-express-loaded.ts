/**
 * Control for the 64 KiB echo: the raw ws server (`ws.ts`, unchanged) in a process that has also loaded
 * Express without using it. With large messages a process with a framework loaded can fall into
 * back-to-back mark-compacts (not every such process does; see bench/README.md, "The 64 KiB echo"); this
 * target shows that apart from any WebSocket library.
 */
import "express";
import "./ws.js";
