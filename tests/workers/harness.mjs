// One long-lived Pyodide for the test session, driven by JSON lines on stdin/stdout.
//
// Requests:  {"id": n, "op": "install" | "files" | "write" | "run" | "fetch", ...}
// Replies:   {"id": n, "ok": true, "result": ..., "stdout": [...], "stderr": [...],
//             "console": [[method, text], ...]}
//            {"id": n, "ok": false, "error": "..."}
// Python's own stdout/stderr are captured per request, so nothing but replies reaches
// this process's stdout.
import fs from "node:fs";
import path from "node:path";
import readline from "node:readline";
import { pathToFileURL } from "node:url";

// DALOY_PYODIDE names another pyodide package directory (an absolute path: the release
// a Worker's compatibility date selects); without it the locked one in node_modules.
const pyodideDir = process.env.DALOY_PYODIDE;
const { loadPyodide } = await import(
  pyodideDir ? pathToFileURL(path.join(pyodideDir, "pyodide.mjs")).href : "pyodide"
);

const reply = (message) => process.stdout.write(JSON.stringify(message) + "\n");
const captured = { stdout: [], stderr: [], console: [] };
// workerd reports a promise rejected with no handler and serves on, where Node would exit:
// each is kept, and the request it came during (or the next one) fails naming it.
const uncaught = [];
process.on("unhandledRejection", (reason) => {
  uncaught.push(String(reason && reason.message ? reason.message : reason).slice(-2000));
});
// Every console call is recorded with its method (the level Workers Logs records it at)
// and goes on to stderr, so nothing but replies reaches this process's stdout.
const toStderr = console.error;
for (const level of ["debug", "info", "log", "warn", "error"]) {
  console[level] = (...args) => {
    captured.console.push([level, args.map(String).join(" ")]);
    toStderr(...args);
  };
}

// workerd's Response takes `encodeBody`: "automatic" (the default) has the runtime encode
// the body as Content-Encoding says when sending it; "manual" means it already is. Node's
// Response ignores the option, so it is recorded here and reported with the response.
const NodeResponse = globalThis.Response;
globalThis.Response = class Response extends NodeResponse {
  constructor(body, init) {
    super(body, init);
    this.encodeBody = init && init.encodeBody === "manual" ? "manual" : "automatic";
  }
};

const started = Date.now();
const pyodide = await loadPyodide({
  stdout: (line) => captured.stdout.push(line),
  stderr: (line) => captured.stderr.push(line),
});
const loadMs = Date.now() - started;
let harness = null;

const b64 = (bytes) => Buffer.from(bytes).toString("base64");
const unb64 = (text) => new Uint8Array(Buffer.from(text, "base64"));

function writeFile(source, target) {
  pyodide.FS.mkdirTree(path.posix.dirname(target));
  pyodide.FS.writeFile(target, new Uint8Array(fs.readFileSync(source)));
}

async function install(message) {
  const site = pyodide.runPython("import sysconfig; sysconfig.get_paths()['purelib']");
  for (const wheel of message.wheels) {
    pyodide.unpackArchive(new Uint8Array(fs.readFileSync(wheel)), "wheel", { extractDir: site });
  }
  for (const [source, target] of message.files) {
    writeFile(source, target.startsWith("/") ? target : path.posix.join(site, target));
  }
  pyodide.runPython(`import sys; sys.path[:0] = ${JSON.stringify(message.path)}`);
  harness = pyodide.pyimport(message.module);
  return { load_ms: loadMs, site };
}

async function files(message) {
  for (const [source, target] of message.files) writeFile(source, target);
  return message.files.length;
}

async function write(message) {
  for (const [target, text] of message.files) {
    pyodide.FS.mkdirTree(path.posix.dirname(target));
    pyodide.FS.writeFile(target, text);
  }
  return message.files.length;
}

async function run(message) {
  const text = await harness.run_json(message.code);
  return JSON.parse(text);
}

function bodyOf(spec, counter) {
  if (spec.chunks) {
    const chunks = spec.chunks.map(unb64);
    return new ReadableStream({
      pull(controller) {
        if (counter.pulled === spec.error_after) controller.error(new TypeError("Network connection lost."));
        else if (counter.pulled < chunks.length) controller.enqueue(chunks[counter.pulled++]);
        else controller.close();
      },
    }, { highWaterMark: 0 });
  }
  return spec.body === null || spec.body === undefined ? undefined : unb64(spec.body);
}

async function settle(promises, ms) {
  const timeout = new Promise((resolve) => setTimeout(() => resolve("timeout"), ms));
  const all = Promise.allSettled(promises).then((results) =>
    results.map((r) => (r.status === "fulfilled" ? "fulfilled" : `rejected: ${r.reason}`)));
  return Promise.race([all, timeout]);
}

async function fetchOp(message) {
  const spec = message.request;
  const counter = { pulled: 0 };
  const body = bodyOf(spec, counter);
  const init = { method: spec.method, headers: spec.headers, body };
  if (spec.chunks) init.duplex = "half";
  let request;
  try {
    request = new Request(spec.url, init);
  } catch (error) {
    // A request the platform itself would refuse (the edge answers 400 for these).
    return { refused: String(error.message || error) };
  }
  const waitUntil = [];
  const ctx = { waitUntil: (promise) => waitUntil.push(promise), passThroughOnException() {} };
  const env = Object.fromEntries(Object.entries(message.env));
  for (const name of message.bindings || []) env[name] = { binding: name };
  const response = await harness.dispatch(message.entry, message.isolate, request, env, ctx);
  const headers = [];
  for (const [name, value] of response.headers) if (name !== "set-cookie") headers.push([name, value]);
  for (const cookie of response.headers.getSetCookie()) headers.push(["set-cookie", cookie]);
  const bytes = new Uint8Array(await response.arrayBuffer());
  const deferred = await settle(waitUntil, message.wait_ms ?? 5000);
  const encodeBody = response.encodeBody ?? "automatic";
  return { status: response.status, headers, body: b64(bytes), encode_body: encodeBody, pulled: counter.pulled, deferred };
}

const ops = { install, files, write, run, fetch: fetchOp };
const lines = readline.createInterface({ input: process.stdin });
reply({ id: 0, ok: true, result: { load_ms: loadMs, version: pyodide.version } });
for await (const line of lines) {
  if (!line.trim()) continue;
  const message = JSON.parse(line);
  captured.stdout = [];
  captured.stderr = [];
  captured.console = [];
  try {
    const result = await ops[message.op](message);
    if (uncaught.length) throw new Error(`uncaught in a promise: ${uncaught.splice(0).join("; ")}`);
    reply({ id: message.id, ok: true, result, stdout: captured.stdout, stderr: captured.stderr, console: captured.console });
  } catch (error) {
    const text = String(error && error.message ? error.message : error);
    reply({ id: message.id, ok: false, error: text.slice(-4000), stdout: captured.stdout, stderr: captured.stderr, console: captured.console });
  }
}
process.exit(0);
