// The job view: a jobs list and a job's page, live while jobs run. Plain JavaScript, no build step.
// Two data sources: over HTTP with the function key (mode "web"), or through the MCP host's
// postMessage bridge when shown as an MCP App (mode "app", io.modelcontextprotocol/ui).
(function () {
  "use strict";

  const MODE = document.body.dataset.mode;
  const CONFIG = JSON.parse(document.getElementById("view-config").textContent);
  const TERMINAL = new Set(["completed", "failed", "canceled"]);
  const JOB_POLL_MS = 1500;
  const LIST_POLL_MS = 3000;
  const KEY_STORE = "job-view-key";
  const $ = (id) => document.getElementById(id);

  // ---- small DOM helpers (text only: job data never becomes markup)
  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attrs || {})) {
      if (value === undefined || value === null || value === false) continue;
      if (name === "className") node.className = value;
      else if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : String(value));
    }
    for (const child of children.flat()) {
      if (child !== null && child !== undefined && child !== false) {
        node.append(child instanceof Node ? child : document.createTextNode(String(child)));
      }
    }
    return node;
  }
  function show(node, visible) { node.hidden = !visible; }
  function seconds(ms) {
    if (ms === null || ms === undefined) return "";
    if (ms < 1000) return `${ms} ms`;
    if (ms < 60000) return `${(ms / 1000).toFixed(1)} s`;
    return `${Math.floor(ms / 60000)} min ${Math.round((ms % 60000) / 1000)} s`;
  }
  function ago(iso) {
    if (!iso) return "";
    const ms = Date.now() - Date.parse(iso);
    if (!(ms >= 0)) return iso;
    if (ms < 60000) return `${Math.max(0, Math.round(ms / 1000))} s ago`;
    if (ms < 3600000) return `${Math.round(ms / 60000)} min ago`;
    if (ms < 86400000) return `${Math.round(ms / 3600000)} h ago`;
    return new Date(iso).toLocaleString();
  }
  function badge(status) { return el("span", {className: `badge status-${status}`, text: status.replace(/_/g, " ")}); }
  // usage (tools/job_usage.py): "1,234 in (300 cached) · 456 out (100 reasoning) · 3 calls · 0.0012 USD"
  function count(n) { return Number(n || 0).toLocaleString("en-US"); }
  function costText(usage) {
    return usage && usage.cost !== undefined && usage.cost !== null ? `${usage.cost.toPrecision(3)} ${usage.currency}` : null;
  }
  function usageText(usage, calls) {
    if (!usage) return "";
    return [
      `${count(usage.input_tokens)} in` + (usage.cached_tokens ? ` (${count(usage.cached_tokens)} cached)` : ""),
      `${count(usage.output_tokens)} out` + (usage.reasoning_tokens ? ` (${count(usage.reasoning_tokens)} reasoning)` : ""),
      calls === false ? null : `${count(usage.model_calls)} ${usage.model_calls === 1 ? "call" : "calls"}`,
      costText(usage),
    ].filter(Boolean).join(" · ");
  }
  function progressFill(bar, job) {
    const progress = job.progress || {};
    const fill = bar.firstElementChild;
    const total = Number(progress.total);
    const done = Number(progress.completed);
    bar.className = `bar status-${job.status}`;
    if (total > 0 && done >= 0) {
      fill.style.width = `${Math.min(100, (100 * done) / total)}%`;
      bar.title = `${done} of ${total}`;
    } else {
      fill.style.width = TERMINAL.has(job.status) ? "100%" : "";
      bar.classList.toggle("indeterminate", !TERMINAL.has(job.status));
      bar.title = progress.stage || job.status;
    }
  }

  // ---- data sources
  class AuthError extends Error {}
  class NotFoundError extends Error {}  // the job does not exist (HTTP 404, or the tools' "Unknown job ...")
  function appError(message) {  // an error through the MCP host: a tool's isError text or a JSON-RPC error
    return new (/\bUnknown job\b/.test(message) ? NotFoundError : Error)(message);
  }

  class WebApi {
    constructor() { this.base = location.pathname.replace(/\/+$/, ""); }
    get key() { return sessionStorage.getItem(KEY_STORE) || ""; }
    set key(value) { sessionStorage.setItem(KEY_STORE, value); }
    async request(method, path, body) {
      if (!this.key) throw new AuthError("no key");
      const response = await fetch(this.base + path, {
        method, cache: "no-store",
        headers: {"x-functions-key": this.key, "Content-Type": "application/json"},
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      if (response.status === 401 || response.status === 403) throw new AuthError("the key was not accepted");
      const data = await response.json().catch(() => ({error: `${response.status} ${response.statusText}`}));
      const message = data.error || `${response.status} ${response.statusText}`;
      if (!response.ok) throw Object.assign(new (response.status === 404 ? NotFoundError : Error)(message),
                                            {status: response.status});
      return data;
    }
    listJobs(filters, cursor) {
      const query = new URLSearchParams({limit: "50"});
      for (const [name, value] of Object.entries(filters)) if (value) query.set(name, value);
      if (cursor) query.set("cursor", cursor);
      return this.request("GET", `/jobs?${query}`);
    }
    job(id) {  // a malformed id (400) names no job either
      return this.request("GET", `/jobs/${encodeURIComponent(id)}`).catch((error) => {
        throw error.status === 400 ? new NotFoundError(error.message) : error;
      });
    }
    sendInput(id, event, data) { return this.request("POST", `/jobs/${encodeURIComponent(id)}/input`, {event, data}); }
    cancel(id) { return this.request("POST", `/jobs/${encodeURIComponent(id)}/cancel`, {}); }
    retry(id) { return this.request("POST", `/jobs/${encodeURIComponent(id)}/retry`, {}); }
  }

  class AppApi {
    // MCP Apps (SEP-1865): JSON-RPC 2.0 over postMessage with the host, which proxies tools/call
    // and resources/read to this server; the tool result the view belongs to arrives as a notification.
    constructor(onToolResult) {
      this.nextId = 1;
      this.pending = new Map();
      this.onToolResult = onToolResult;
      window.addEventListener("message", (event) => this.receive(event));
    }
    receive(event) {
      if (event.source !== window.parent) return;
      const message = event.data || {};
      if (message.id !== undefined && this.pending.has(message.id) && !message.method) {
        const {resolve, reject} = this.pending.get(message.id);
        this.pending.delete(message.id);
        if (message.error) reject(appError(message.error.message || "request failed"));
        else resolve(message.result);
      } else if (message.method === "ui/notifications/tool-result") {
        this.onToolResult(message.params || {});
      } else if (message.method === "ui/notifications/host-context-changed") {
        applyTheme(message.params || {});
      } else if (message.method === "ui/resource-teardown" && message.id !== undefined) {
        window.parent.postMessage({jsonrpc: "2.0", id: message.id, result: {}}, "*");
      }
    }
    request(method, params) {
      const id = this.nextId++;
      return new Promise((resolve, reject) => {
        this.pending.set(id, {resolve, reject});
        window.parent.postMessage({jsonrpc: "2.0", id, method, params}, "*");
      });
    }
    notify(method, params) { window.parent.postMessage({jsonrpc: "2.0", method, params}, "*"); }
    async start() {
      const result = await this.request("ui/initialize", {
        protocolVersion: "2026-01-26", appInfo: {name: "job-view", version: "1.0.0"},
        appCapabilities: {availableDisplayModes: ["inline"]},
      });
      applyTheme((result && result.hostContext) || {});
      this.notify("ui/notifications/initialized", {});
      new ResizeObserver(() => this.notify("ui/notifications/size-changed", {
        width: document.documentElement.scrollWidth, height: document.documentElement.scrollHeight,
      })).observe(document.body);
    }
    async callTool(name, args) {
      const result = await this.request("tools/call", {name, arguments: args});
      const data = toolData(result);
      if (result.isError) throw appError(typeof data === "string" ? data : JSON.stringify(data));
      return data;
    }
    async job(id) {
      const [job, steps] = await Promise.all([
        this.callTool("get_job", {job_id: id}),
        this.request("resources/read", {uri: `job://${id}/steps`}),
      ]);
      return {job, steps: JSON.parse(steps.contents[0].text).steps};
    }
    sendInput(id, event, data) { return this.callTool("send_job_input", {job_id: id, event, data}); }
    cancel(id) { return this.callTool("cancel_job", {job_id: id, reason: "canceled from the job view"}); }
    retry(id) { return this.callTool("retry_job", {job_id: id}); }
  }

  function toolData(result) {
    if (result && result.structuredContent) return result.structuredContent;
    const text = ((result && result.content) || []).filter((c) => c.type === "text").map((c) => c.text).join("");
    try { return JSON.parse(text); } catch (error) { return text; }
  }

  function applyTheme(context) {
    const variables = (context.styles && context.styles.variables) || {};
    for (const [name, value] of Object.entries(variables)) {
      if (value) document.documentElement.style.setProperty(name, value);
    }
    if (context.theme) document.documentElement.dataset.theme = context.theme;
  }

  // ---- views
  let api = null;
  let timer = null;
  let currentJobId = null;
  let listCursor = null;
  let lastInputSignature = null;
  let listPolls = 0;  // numbers of list and job requests: an answer that a newer request overtook is dropped
  let jobRequests = 0;
  let listGeneration = 0;  // bumped when the filters change: answers for the old filters are dropped
  let moreShown = false;  // "More" added pages, which polls keep

  function schedule(fn, ms) {
    clearTimeout(timer);
    timer = setTimeout(fn, ms);
  }

  function fail(error) {
    if (error instanceof AuthError) {
      askForKey(error.message === "no key" ? "" : "The key was not accepted. Enter the function key.");
      return;
    }
    const box = $("view-error");
    box.textContent = String(error.message || error);
    show(box, true);
  }

  // exactly one of the page's sections shows at a time
  function showSection(id) {
    for (const section of ["key-form", "list-view", "job-view", "job-missing"]) show($(section), section === id);
  }

  function askForKey(message) {
    clearTimeout(timer);
    showSection("key-form");
    $("key-error").textContent = message || "";
    show($("key-error"), Boolean(message));
    $("key-input").focus();
  }

  function statusOptions() {
    for (const status of CONFIG.statuses) $("filter-status").append(el("option", {value: status, text: status}));
    for (const workflow of CONFIG.workflows) $("filter-workflow").append(el("option", {value: workflow, text: workflow}));
  }

  function filters() {
    return {status: $("filter-status").value, workflow: $("filter-workflow").value};
  }

  function jobRow(job) {
    const progress = job.progress || {};
    const bar = el("div", {className: "bar"}, el("div", {className: "fill"}));
    progressFill(bar, job);
    return el("tr", {"data-job-id": job.job_id, "data-created": job.created_at || "",
                     onclick: () => { location.hash = `#/jobs/${job.job_id}`; }},
      el("td", {}, el("a", {href: `#/jobs/${job.job_id}`, className: "mono", title: job.job_id,
                            text: job.job_id.length > 14 ? `${job.job_id.slice(0, 12)}…` : job.job_id})),
      el("td", {text: job.workflow || ""}),
      el("td", {}, badge(job.status)),
      el("td", {className: "progress-cell"},
        el("div", {className: "small clip", title: progress.message || "", text: progress.message || progress.stage || ""}), bar),
      el("td", {className: "muted small", title: usageText(job.usage),
                text: job.usage ? [`${count(job.usage.input_tokens + job.usage.output_tokens)} tokens`,
                                   costText(job.usage)].filter(Boolean).join(" · ") : ""}),
      el("td", {className: "muted", title: job.updated_at, text: ago(job.updated_at)}));
  }

  // how: "poll" (the first page again, live; rows that "More" added stay), "more" (the next page) or
  // "filters" (the filters changed: start over). An answer overtaken by a newer one is dropped.
  async function showList(how) {
    currentJobId = null;
    showSection("list-view");
    if (how === "filters") {
      listGeneration++;
      moreShown = false;
    }
    const generation = listGeneration;
    const poll = how === "more" ? null : ++listPolls;
    const page = await api.listJobs(filters(), how === "more" ? listCursor : null);
    if (generation !== listGeneration || (poll !== null && poll !== listPolls) || currentJobId !== null) return;
    const body = $("jobs-table").tBodies[0];
    const fresh = page.jobs.map(jobRow);
    const ids = new Set(page.jobs.map((job) => job.job_id));
    // list_jobs pages run in (created, id) order: rows past the fresh page's last one are later pages'
    // (kept); earlier rows missing from it were purged (dropped)
    const last = fresh.length ? fresh[fresh.length - 1].dataset : null;
    const later = (row) => Boolean(last) && (row.dataset.created > last.created
      || (row.dataset.created === last.created && row.dataset.jobId > last.jobId));
    const kept = how === "more" ? [...body.rows] : moreShown ? [...body.rows].filter(later) : [];
    const rows = kept.filter((row) => !ids.has(row.dataset.jobId)).concat(fresh);
    rows.sort((a, b) => b.dataset.created.localeCompare(a.dataset.created));  // newest first
    body.replaceChildren(...rows);
    if (how === "more" || !moreShown) listCursor = page.next_cursor;
    if (how === "more") moreShown = true;
    show($("jobs-more"), Boolean(listCursor));
    show($("jobs-empty"), body.rows.length === 0);
    show($("view-error"), false);
    schedule(() => refresh(), LIST_POLL_MS);
  }

  // --- one job
  function stepNode(step, span) {
    const start = step.started_at ? Date.parse(step.started_at) - span.start : 0;
    const duration = step.duration_ms !== null && step.duration_ms !== undefined ? step.duration_ms
      : (step.status === "running" ? Date.now() - Date.parse(step.started_at || new Date().toISOString()) : 0);
    const width = span.length > 0 ? Math.max(0.4, (100 * duration) / span.length) : 100;
    const left = span.length > 0 ? Math.min(99.6, (100 * start) / span.length) : 0;
    const bar = el("div", {className: `span status-${step.status}`});
    bar.style.left = `${left}%`;  // CSSOM, not a style attribute: the page's CSP allows no inline styles
    bar.style.width = `${Math.min(width, 100 - left)}%`;
    const lane = el("div", {className: "lane"}, bar);
    const facts = [
      `+${seconds(Math.max(0, start))}`,
      step.duration_ms !== null && step.duration_ms !== undefined ? seconds(step.duration_ms) : step.status,
      step.retries ? `${step.retries} ${step.retries === 1 ? "retry" : "retries"}` : null,
      step.usage ? usageText(step.usage, step.kind !== "model_call") : null,
    ].filter(Boolean).join(" · ");
    const previews = el("div", {className: "previews"},
      step.input_preview ? el("div", {className: "in", title: step.input_preview, text: `in: ${step.input_preview}`}) : null,
      step.output_preview ? el("div", {className: "out", title: step.output_preview, text: `out: ${step.output_preview}`}) : null,
      step.error ? el("div", {className: "error", title: step.error, text: step.error}) : null,
      step.fire_at ? el("div", {className: "in", text: `fires at ${new Date(step.fire_at).toLocaleString()}`}) : null);
    const row = el("div", {className: `step kind-${step.kind} status-${step.status}`, "data-kind": step.kind,
                           "data-status": step.status},
      el("div", {className: "step-head"},
        el("span", {className: `kind kind-${step.kind}`, text: step.kind.replace("_", " ")}),
        el("span", {className: "label", text: step.label || step.name}),
        badge(step.status),
        el("span", {className: "facts muted", text: facts})),
      lane, previews);
    const children = (step.steps || []).map((child) => stepNode(child, span));
    return children.length ? el("div", {className: "group"}, row, el("div", {className: "children"}, children)) : row;
  }

  // The job's usage: totals, the cost or why there is none, and one row per agent.
  function renderUsage(usage) {
    show($("job-usage"), Boolean(usage));
    if (!usage) return;
    $("usage-total").textContent = usageText(usage);
    $("usage-note").textContent = usage.cost_note || "";
    show($("usage-note"), Boolean(usage.cost_note));
    $("usage-agents").tBodies[0].replaceChildren(...(usage.agents || []).map((agent) => el("tr", {},
      el("td", {className: "mono", text: agent.agent}),
      el("td", {text: count(agent.input_tokens)}), el("td", {text: count(agent.cached_tokens)}),
      el("td", {text: count(agent.output_tokens)}), el("td", {text: count(agent.reasoning_tokens)}),
      el("td", {text: count(agent.model_calls)}), el("td", {text: costText(agent) || "–"}))));
  }

  function timeSpan(job, steps) {
    let start = Date.parse(job.created_at);
    let end = TERMINAL.has(job.status) ? Date.parse(job.updated_at) : Date.now();
    const visit = (list) => {
      for (const step of list) {
        if (step.started_at) start = Math.min(start, Date.parse(step.started_at));
        if (step.ended_at) end = Math.max(end, Date.parse(step.ended_at));
        visit(step.steps || []);
      }
    };
    visit(steps);
    return {start, length: Math.max(1, end - start)};
  }

  function inputFields(schema) {
    const properties = (schema && schema.properties) || {};
    const required = new Set((schema && schema.required) || []);
    return Object.entries(properties).map(([name, property]) => ({name, property, required: required.has(name)}));
  }

  function renderInput(job) {
    const request = job.status === "waiting_for_input" ? job.input_request : null;
    const signature = request ? JSON.stringify(request) : null;
    show($("input-request"), Boolean(request));
    if (signature === lastInputSignature) return;
    lastInputSignature = signature;
    const form = $("input-form");
    form.replaceChildren();
    if (!request) return;
    $("input-prompt").textContent = request.prompt || "";
    const details = request.details;
    $("input-details").textContent = details === undefined || details === null ? ""
      : typeof details === "string" ? details
      : typeof details === "object" && !Array.isArray(details)
        ? Object.entries(details).map(([k, v]) => `${k}: ${typeof v === "string" ? v : JSON.stringify(v)}`).join("\n\n")
        : JSON.stringify(details, null, 2);
    show($("input-details"), Boolean($("input-details").textContent));
    const fields = inputFields(request.schema);
    const approval = fields.find((f) => f.name === "approved" && f.property.type === "boolean");
    const controls = {};
    for (const field of fields) {
      if (field === approval) continue;
      const type = field.property.type;
      let control;
      if (Array.isArray(field.property.enum)) {
        control = el("select", {name: field.name}, field.property.enum.map((v) => el("option", {value: JSON.stringify(v), text: String(v)})));
      } else if (type === "boolean") {
        control = el("input", {type: "checkbox", name: field.name});
      } else if (type === "number" || type === "integer") {
        control = el("input", {type: "number", name: field.name, step: type === "integer" ? "1" : "any"});
      } else {
        control = el("input", {type: "text", name: field.name, placeholder: field.property.description || ""});
      }
      controls[field.name] = {control, field};
      form.append(el("label", {className: "field"}, `${field.name}${field.required ? "" : " (optional)"}`, control));
    }
    const raw = fields.length === 0 ? el("textarea", {name: "raw", rows: "4", placeholder: "JSON"}) : null;
    if (raw) form.append(el("label", {className: "field"}, "input (JSON)", raw));
    const collect = () => {
      if (raw) return JSON.parse(raw.value || "null");
      const data = {};
      for (const [name, {control, field}] of Object.entries(controls)) {
        if (control.type === "checkbox") data[name] = control.checked;
        else if (control.tagName === "SELECT") data[name] = JSON.parse(control.value);
        else if (control.value !== "") data[name] = control.type === "number" ? Number(control.value) : control.value;
        else if (field.required) throw new Error(`${name} is required`);
      }
      return data;
    };
    const send = (extra) => async () => {
      try {
        const data = {...collect(), ...extra};
        setBusy(true);
        await api.sendInput(currentJobId, request.event, raw ? collect() : data);
        lastInputSignature = null;
        await renderJob(currentJobId);
      } catch (error) {
        actionError(error);
      } finally {
        setBusy(false);
      }
    };
    const buttons = approval
      ? [el("button", {type: "button", "data-action": "approve", className: "primary", onclick: send({approved: true}), text: "Approve"}),
         el("button", {type: "button", "data-action": "reject", onclick: send({approved: false}), text: "Reject"})]
      : [el("button", {type: "button", "data-action": "send", className: "primary", onclick: send({}), text: "Send"})];
    form.append(el("div", {className: "buttons"}, buttons));
  }

  function setBusy(busy) {
    for (const button of document.querySelectorAll("#job-view button")) button.disabled = busy;
  }

  function actionError(error) {
    if (error instanceof AuthError) return fail(error);
    $("action-error").textContent = String(error.message || error);
    show($("action-error"), true);
  }

  async function renderJob(id) {
    const ticket = ++jobRequests;
    const data = await api.job(id);
    if (id !== currentJobId || ticket !== jobRequests) return;
    const job = data.job;
    $("job-title").textContent = `${job.workflow || "job"} ${job.job_id}`;
    $("job-status").replaceWith(Object.assign(badge(job.status), {id: "job-status"}));
    $("job-times").textContent = `started ${ago(job.created_at)} · updated ${ago(job.updated_at)}`;
    const progress = job.progress || {};
    $("job-stage").textContent = progress.stage || job.status;
    const request = job.status === "waiting_for_input" ? job.input_request : null;
    $("job-message").textContent = request && request.prompt === progress.message ? "" : (progress.message || "");
    progressFill($("job-bar"), job);
    renderUsage(job.usage);
    renderInput(job);
    show($("cancel-button"), !TERMINAL.has(job.status));
    show($("retry-button"), job.status === "failed");
    const result = job.error !== undefined ? job.error : job.output;
    show($("job-result"), result !== undefined);
    $("job-result-title").textContent = job.error !== undefined ? "Error" : "Output";
    if (job.error !== undefined) $("job-result").open = true;  // terminal: no poll re-renders it
    $("job-output").textContent = typeof result === "string" ? result : JSON.stringify(result, null, 2);
    const span = timeSpan(job, data.steps);
    $("timeline").replaceChildren(...data.steps.map((step) => stepNode(step, span)));
    show($("timeline-empty"), data.steps.length === 0);
    show($("live"), !TERMINAL.has(job.status));
    show($("view-error"), false);
    document.title = `${job.workflow || "job"} · ${job.status}`;
    if (!TERMINAL.has(job.status)) schedule(() => refresh(), JOB_POLL_MS);
  }

  // A job not shown yet starts blank: nothing of the job shown before may stay on the page.
  function clearJob(id) {
    lastInputSignature = null;
    $("job-status").replaceWith(Object.assign(el("span", {className: "badge", text: "loading"}), {id: "job-status"}));
    for (const field of ["job-title", "job-stage", "job-message", "job-output"]) $(field).textContent = "";
    $("job-times").textContent = `loading job ${id}…`;  // the title shows the id once the job's data is in
    progressFill($("job-bar"), {status: "pending"});
    renderUsage(null);
    renderInput({});
    for (const part of ["cancel-button", "retry-button", "job-result", "timeline-empty", "live"]) show($(part), false);
    $("timeline").replaceChildren();
    show($("view-error"), false);
  }

  function showMissing(message) {
    clearTimeout(timer);
    showSection("job-missing");
    show($("view-error"), false);
    $("job-missing-message").textContent = message;
    show($("missing-back-link"), MODE === "web");
    document.title = "No such job";
  }

  async function showJob(id) {
    if (currentJobId !== id) clearJob(id);
    currentJobId = id;
    showSection("job-view");
    show($("back-link"), MODE === "web");
    show($("action-error"), false);
    try {
      await renderJob(id);
    } catch (error) {
      if (!(error instanceof NotFoundError) || id !== currentJobId) throw error;
      showMissing(error.message);
    }
  }

  async function action(kind) {
    show($("action-error"), false);
    setBusy(true);
    try {
      await (kind === "cancel" ? api.cancel(currentJobId) : api.retry(currentJobId));
      await renderJob(currentJobId);
    } catch (error) {
      actionError(error);
    } finally {
      setBusy(false);
    }
  }

  // ---- routing (web): #/ is the list, #/jobs/<id> a job. `?code=<key>` at the end of a link hands
  // over the key once: after the fragment's route (`#/jobs/<id>?code=<key>`: it never leaves the
  // browser), or as the page's query (`/api/job-view?code=<key>`, the form of Azure's function URLs,
  // which does reach the server); `#code=<key>` is taken too. The key then goes from the address bar.
  const CODE = /(^|[?&])code=([^&]*)&?/;

  function takeKey() {
    const fragment = location.hash.replace(/^#/, "");
    const query = location.search.replace(/^\?/, "");
    const inFragment = fragment.match(CODE);
    const inQuery = query.match(CODE);
    if (!inFragment && !inQuery) return;
    api.key = decodeURIComponent((inFragment || inQuery)[2]);
    const route = inFragment ? fragment.replace(CODE, "$1").replace(/[?&]$/, "") : fragment;
    const rest = inQuery ? query.replace(CODE, "$1").replace(/[?&]$/, "") : query;
    history.replaceState(null, "", location.pathname + (rest ? `?${rest}` : "") + `#${route || "/"}`);
  }

  function route() {
    takeKey();
    const job = location.hash.match(/^#\/jobs\/([^?&]+)/);
    return job ? showJob(decodeURIComponent(job[1])) : showList("poll");
  }

  function refresh() {
    const run = MODE === "web" ? route() : (currentJobId ? renderJob(currentJobId) : null);
    if (run) run.catch(fail);
  }

  function startWeb() {
    api = new WebApi();
    statusOptions();
    $("filters").addEventListener("change", () => showList("filters").catch(fail));
    $("jobs-more").addEventListener("click", () => showList("more").catch(fail));
    $("key-entry").addEventListener("submit", (event) => {
      event.preventDefault();
      api.key = $("key-input").value.trim();
      $("key-input").value = "";
      refresh();
    });
    window.addEventListener("hashchange", refresh);
    refresh();
  }

  function startApp() {
    show($("back-link"), false);
    api = new AppApi((result) => {
      const job = toolData(result);
      const id = job && (job.job_id || (job.job && job.job.job_id));
      if (id) showJob(id).catch(fail);
    });
    api.start().catch(fail);
  }

  $("cancel-button").addEventListener("click", () => action("cancel"));
  $("retry-button").addEventListener("click", () => action("retry"));
  if (MODE === "app") startApp(); else startWeb();
})();
