/**
 * Control for the 64 KiB echo and the idle memory: the raw ws server (`ws.ts`, unchanged) in a process
 * that has also loaded Express and made an app, never routed to. It measures what a framework's mere
 * presence in the process costs, apart from any WebSocket library.
 */
import express from "express";
import "./ws.js";

express();
