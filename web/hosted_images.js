// Hosted Image APIs in ComfyUI's frontend (the classic canvas and "Nodes 2.0" alike):
// - a "refresh models" button right under each model list, loading the provider's live models
//   that can do the node's operation (for OpenAI-compatible nodes: from the node's own base_url
//   with the key named in its api_key_env, under the server's key-destination rule);
// - "(type a model id…)" at the end of every model list, for ids no list knows;
// - inputs the chosen model does not take are hidden while they hold their defaults, and come
//   back when the model changes (the server says which model takes which: `hosted_images_inputs`);
//   width and height show only for size "custom". Hidden inputs keep their values and are saved;
// - seeds the provider never receives start "fixed", so Run does not bill again for nothing;
// - search aliases on ComfyUI versions whose /object_info does not carry them yet;
// - a "Hosted Images" sidebar tab: which providers have keys, from where, and which endpoint each
//   calls, and under each what today's calls came to (from the spend journal); its "Check
//   providers" button shows the doctor's report (free calls only). Keys never reach the browser:
//   the server fetches model lists with them.
//
// Everything here is optional sugar: on a frontend without these APIs it does nothing, and the
// model inputs still accept any name in API-format workflows.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";

const ROUTE = "/hosted_images";
const PACK_PREFIX = "HostedImages_";
// The pack's own words, in the user's language where locales/<lang>/main.json ("hostedImages")
// has them: ComfyUI serves every pack's translations at /i18n (main.json at each language's top).
// English until they load (in init, before any node is made) and wherever no translation fits.
const S = {
  refreshModels: "refresh models",
  typeModelId: "(type a model id…)",
  checkProviders: "Check providers",
  sidebarTitle: "Hosted Images",
  savedResults: "Saved results of failed or cancelled runs",
};

// The frontend's own choice: the Comfy.Locale setting, else the browser's language ("zh-CN" -> zh).
async function loadStrings() {
  try {
    const language = String(navigator.language || "en");
    const locale = String((await api.getSetting?.("Comfy.Locale")) || language.split("-")[0]);
    const all = await (await api.fetchApi("/i18n")).json();
    const found = (all?.[locale] ?? all?.[locale.split("-")[0]])?.hostedImages ?? {};
    for (const key of Object.keys(S)) if (typeof found[key] === "string" && found[key].trim()) S[key] = found[key];
  } catch (error) {
    console.warn("[Hosted Images] translations:", error);
  }
}
// The widget layout the nodes have had since pack 0.2: the prompt before the model on every node,
// as ComfyUI's own API nodes have it. A workflow saved before (no hosted_images_layout property)
// holds the values of these nodes in the old places; they are put back as it loads.
const LAYOUT = 2;
const PROMPT_MOVED = new Set([
  "HostedImages_IonosImageGenerate",
  "HostedImages_AgnicImageGenerate",
  "HostedImages_OpenAICompatImageGenerate",
]);
const AUTO = "auto";
const CONNECTION_INPUTS = ["base_url", "api_key_env"];

// A toast through whichever API the frontend has: newer ones (1.5x) have success/error/info/
// warning(title, {description, duration}) -- persistent unless a duration is given -- and mark
// add() deprecated; older ones have only add({severity, summary, detail, life}).
const TOAST_MS = { success: 3000, info: 5000, warn: 8000, error: 12000 };

export function notify(severity, summary, detail) {
  const toast = app.extensionManager?.toast;
  const duration = TOAST_MS[severity] ?? 5000;
  const method = { success: "success", info: "info", warn: "warning", error: "error" }[severity];
  if (method && typeof toast?.[method] === "function") {
    toast[method](summary, { description: detail, duration });
  } else if (typeof toast?.add === "function") {
    toast.add({ severity, summary, detail, life: duration });
  } else if (severity === "error") {
    console.warn(`[Hosted Images] ${summary}: ${detail}`);
  }
}

async function fetchJson(path) {
  const response = await api.fetchApi(path);
  let body = {};
  try {
    body = await response.json();
  } catch (_) {
    body = { error: `HTTP ${response.status}` };
  }
  if (!response.ok || body.error) {
    const error = new Error(body.error || `HTTP ${response.status}`);
    error.label = body.label;
    throw error;
  }
  return body;
}

// --- model lists ---------------------------------------------------------------------------------

// Give a combo a new list. The options object itself is replaced, not changed in place: the
// frontend's Nodes 2.0 widgets copy `options` when they render and see a change only through the
// widget's `options` setter (frontend 1.3x and later); older frontends read the array each time.
// What may become a combo entry: plain model ids only (frontend 1.27 draws entries as HTML, and a
// server or a shared workflow could send anything), a bounded number of them.
const MODEL_ID = /^[A-Za-z0-9._~:/@+-]{1,256}$/;
const MAX_LISTED_MODELS = 2000;

export function listableIds(ids) {
  const kept = [...new Set((ids ?? []).filter((id) => typeof id === "string" && MODEL_ID.test(id)))];
  return kept.slice(0, MAX_LISTED_MODELS);
}

function setModelChoices(node, widget, ids) {
  const current = widget.value;
  // "auto" stays first: a list the provider sends never holds it
  const models = listableIds([AUTO, current, ...ids]);
  const options = { ...widget.options, values: [...models, S.typeModelId] };
  try {
    widget.options = options;
  } catch (_) {
    // a frontend whose options cannot be replaced: the check below updates them in place
  }
  // A widget store may keep its own copy and drop a whole replacement of the options (reported on
  // Nodes 2.0, August 2026): whatever the frontend did, the values must be the new list.
  const values = widget.options?.values;
  if (Array.isArray(values) && (values.length !== options.values.length || values.some((v, i) => v !== options.values[i]))) {
    values.splice(0, values.length, ...options.values);
  }
  widget.value = current;
  node.setDirtyCanvas?.(true, true);
  return models;
}

// The node's operation: an edit node takes the image it edits.
function operationOf(nodeData) {
  return nodeData?.input?.required?.image?.[0] === "IMAGE" ? "edit" : "generate";
}

export async function refreshModels(node, widget, provider, operation) {
  const query = new URLSearchParams({ operation, refresh: "1" });
  for (const name of CONNECTION_INPUTS) {
    const input = node.widgets?.find((w) => w.name === name);
    if (input) query.set(name, input.value ?? "");
  }
  const body = await fetchJson(`${ROUTE}/models/${encodeURIComponent(provider)}?${query}`);
  setModelChoices(node, widget, body.models);
  return body;
}

async function askForModelId(current) {
  const message = "the id as the provider names it";
  const dialog = app.extensionManager?.dialog;
  const answer = dialog?.prompt
    ? await dialog.prompt({ title: "Model id", message, defaultValue: current })
    : window.prompt(message, current);
  return typeof answer === "string" ? answer.trim() : "";
}

// "(type a model id…)" asks for an id and selects it; the list keeps it from then on. Cancel (or
// Esc) leaves the model as it was; the box starts from the current model, also on a loaded workflow.
function acceptTypedIds(node, widget) {
  setModelChoices(node, widget, widget.options.values ?? []);
  widget.hostedImagesModel = widget.value;
  const callback = widget.callback;
  widget.callback = function (value, ...rest) {
    if (value !== S.typeModelId) {
      widget.hostedImagesModel = value;
      return callback?.call(this, value, ...rest);
    }
    const current = widget.hostedImagesModel;
    widget.value = current;
    askForModelId(current).then((id) => {
      if (!id || id === current) {
        widget.value = current;
        node.setDirtyCanvas?.(true, true);
        return;
      }
      if (!MODEL_ID.test(id)) {
        widget.value = current;
        notify("error", "Not a model id", "A model id has letters, digits and ._~:/@+- only, at most 256 of them");
        return;
      }
      setModelChoices(node, widget, [...widget.options.values, id]);
      widget.value = widget.hostedImagesModel = id;
      callback?.call(this, id, ...rest);
      node.setDirtyCanvas?.(true, true);
    });
  };
}

// --- inputs the chosen model does not take -----------------------------------------------------

function defaultOf(nodeData, name) {
  for (const section of ["required", "optional"]) {
    const spec = nodeData?.input?.[section]?.[name];
    if (spec) return spec[1]?.default ?? (Array.isArray(spec[0]) ? spec[0][0] : undefined);
  }
  return undefined;
}

// The classic canvas reads widget.hidden; Nodes 2.0 reads widget.options.hidden (frontend 1.58's
// widget store takes the first as well). Frontends before 1.3x skip a hidden widget when drawing
// but still lay out its row: a zero height (LiteGraph adds 4 to what computeSize says) closes it.
const NO_ROW = () => [0, -4];

function setHidden(widget, hidden) {
  if (Boolean(widget.hidden) === hidden && Boolean(widget.options?.hidden) === hidden) return false;
  widget.hidden = hidden;
  if (widget.options) widget.options.hidden = hidden;
  if (hidden && widget.computeSize !== NO_ROW) {
    widget.hostedImagesOwnSize = Object.getOwnPropertyDescriptor(widget, "computeSize") ?? null;
    widget.computeSize = NO_ROW;
  } else if (!hidden && widget.computeSize === NO_ROW) {
    const own = widget.hostedImagesOwnSize;
    if (own) Object.defineProperty(widget, "computeSize", own);
    else delete widget.computeSize;
  }
  return true;
}

export function showWhatTheModelTakes(node, nodeData) {
  const inputs = nodeData?.input?.required?.model?.[1]?.hosted_images_inputs;
  const widgets = node.widgets ?? [];
  const find = (name) => widgets.find((w) => w.name === name);
  const model = find("model")?.value;
  const takes = inputs?.models?.[model] ?? null; // a model the pack does not know takes everything
  const hiddenByModel = (name) => {
    const widget = find(name);
    return Boolean(
      inputs?.managed?.includes(name) && takes !== null && !takes.includes(name) &&
        widget?.value === defaultOf(nodeData, name),
    );
  };
  let changed = false;
  for (const name of inputs?.managed ?? []) {
    const widget = find(name);
    if (widget && !["width", "height"].includes(name)) changed = setHidden(widget, hiddenByModel(name)) || changed;
  }
  const size = find("size");
  for (const name of ["width", "height"]) {
    const widget = find(name);
    if (!widget || !size) continue;
    const unused = size.hidden || (size.value !== "custom" && Array.isArray(size.options?.values));
    changed = setHidden(widget, hiddenByModel(name) || unused) || changed;
  }
  if (changed) {
    if (typeof node.computeSize === "function" && Array.isArray(node.size)) {
      node.setSize?.([node.size[0], node.computeSize()[1]]);
    }
    node.setDirtyCanvas?.(true, true);
  }
  return changed;
}

// Re-judge what to show whenever the model or the size changes.
function watchVisibility(node, nodeData) {
  for (const name of ["model", "size"]) {
    const widget = node.widgets?.find((w) => w.name === name);
    if (!widget) continue;
    const callback = widget.callback;
    widget.callback = function (...args) {
      const result = callback?.apply(this, args);
      showWhatTheModelTakes(node, nodeData);
      return result;
    };
  }
  showWhatTheModelTakes(node, nodeData);
}

function addRefreshButton(node, widget, provider, operation) {
  const button = node.addWidget("button", "refresh models", null, async () => {
    try {
      const body = await refreshModels(node, widget, provider, operation);
      const dropped = body.dropped ? `; ${body.dropped} entries that are not plain model ids were left out` : "";
      notify("success", `${body.label} models refreshed`, `${body.models.length} models can ${operation}${dropped}`);
    } catch (error) {
      notify("error", `Could not load ${error.label || provider} models`, String(error.message || error));
    }
  });
  button.label = S.refreshModels; // the name stays English: checks and saved layouts find it by name
  // A button holds no value: keep it out of saved workflows so widget counts stay stable.
  button.serialize = false;
  button.options = { ...(button.options || {}), serialize: false };
  // Right under the model list, not at the bottom of the node.
  const widgets = node.widgets;
  widgets.splice(widgets.indexOf(button), 1);
  widgets.splice(widgets.indexOf(widget) + 1, 0, button);
}

// --- seeds ---------------------------------------------------------------------------------------

// Frontends before 1.3x read control_after_generate as a bare flag and start every seed on
// "randomize": set the mode the pack asks for on new nodes (a loaded workflow keeps its own).
function applySeedDefaults(node, nodeData) {
  for (const section of ["required", "optional"]) {
    for (const [name, spec] of Object.entries(nodeData?.input?.[section] ?? {})) {
      const mode = spec?.[1]?.hosted_images_control_default;
      const control = mode && node.widgets?.find((w) => w.name === name)?.linkedWidgets?.[0];
      if (control && control.options?.values?.includes?.(mode)) control.value = mode;
    }
  }
}

app.registerExtension({
  name: "hostedimageapis.nodes",

  async init() {
    await loadStrings();
  },

  // ComfyUI before 0.4 leaves SEARCH_ALIASES out of /object_info; newer frontends search them.
  async addCustomNodeDefs(defs) {
    const ours = Object.keys(defs).filter((name) => name.startsWith(PACK_PREFIX) && !defs[name].search_aliases?.length);
    if (!ours.length) return;
    try {
      const aliases = await fetchJson(`${ROUTE}/search_aliases`);
      for (const name of ours) if (aliases[name]?.length) defs[name].search_aliases = aliases[name];
    } catch (error) {
      console.warn("[Hosted Images] search aliases:", error);
    }
  },

  async beforeRegisterNodeDef(nodeType, nodeData) {
    if (!nodeData?.name?.startsWith(PACK_PREFIX)) return;
    const modelSpec = nodeData.input?.required?.model;
    const hasModelList = Array.isArray(modelSpec?.[0]);
    const provider = modelSpec?.[1]?.hosted_images_provider;
    const operation = operationOf(nodeData);

    const configure = nodeType.prototype.configure;
    nodeType.prototype.configure = function (info, ...rest) {
      const saved = info?.widgets_values;
      if (PROMPT_MOVED.has(nodeData.name) && (info.properties?.hosted_images_layout ?? 1) < LAYOUT && saved?.length > 1) {
        info = { ...info, widgets_values: [saved[1], saved[0], ...saved.slice(2)] };
      }
      const result = configure.call(this, info, ...rest);
      this.properties = { ...(this.properties ?? {}), hosted_images_layout: LAYOUT };
      return result;
    };

    const onNodeCreated = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      this.properties = { ...(this.properties ?? {}), hosted_images_layout: LAYOUT };
      const result = onNodeCreated?.apply(this, arguments);
      applySeedDefaults(this, nodeData);
      watchVisibility(this, nodeData);
      const widget = hasModelList && this.widgets?.find((w) => w.name === "model");
      if (widget) {
        acceptTypedIds(this, widget);
        if (provider && typeof this.addWidget === "function") addRefreshButton(this, widget, provider, operation);
      }
      return result;
    };

    if (!hasModelList) return;
    const onConfigure = nodeType.prototype.onConfigure;
    nodeType.prototype.onConfigure = function () {
      const result = onConfigure?.apply(this, arguments);
      // a saved workflow may name a model the list does not know: keep it selectable
      const widget = this.widgets?.find((w) => w.name === "model");
      if (widget && !widget.options?.values?.includes?.(widget.value)) setModelChoices(this, widget, widget.options.values ?? []);
      if (widget) widget.hostedImagesModel = widget.value;
      showWhatTheModelTakes(this, nodeData);
      return result;
    };
    const onSerialize = nodeType.prototype.onSerialize;
    nodeType.prototype.onSerialize = function (data) {
      // Older frontends leave a hole where a widget without a value (the button) sits; the
      // values are read back in order, so close it.
      if (Array.isArray(data?.widgets_values)) data.widgets_values = data.widgets_values.filter(() => true);
      return onSerialize?.apply(this, arguments);
    };
  },

  async setup() {
    api.addEventListener?.("execution_error", (event) => showNodeError(event?.detail));
    const sidebar = app.extensionManager?.registerSidebarTab;
    if (typeof sidebar !== "function") return;
    app.extensionManager.registerSidebarTab({
      id: "hosted-images-keys",
      icon: "pi pi-key",
      title: S.sidebarTitle,
      tooltip: "Hosted Images: keys, endpoints and today's spend",
      type: "custom",
      render: (element) => renderKeyStatus(element),
    });
  },
});

// --- errors where the user looks ------------------------------------------------------------------

// When one of the pack's nodes fails, its own first line and hint in a toast (the frontend's
// generic one stays): frontend 1.58 hides them behind "View details", 1.27's dialog clips them.
export function showNodeError(detail) {
  if (!detail?.node_type?.startsWith?.(PACK_PREFIX)) return;
  const lines = String(detail.exception_message ?? "").split("\n").map((l) => l.trim()).filter(Boolean);
  if (!lines.length) return;
  const hint = lines.find((l) => l.startsWith("Hint:"));
  const title = app.graph?.getNodeById?.(Number(detail.node_id))?.title ?? detail.node_type.slice(PACK_PREFIX.length);
  notify("error", `${title} failed`, hint && hint !== lines[0] ? `${lines[0]}\n${hint}` : lines[0]);
}

// --- the sidebar tab -----------------------------------------------------------------------------

function line(parent, tag, text, css = "") {
  const child = document.createElement(tag);
  child.textContent = text;
  if (css) child.style.cssText = css;
  parent.appendChild(child);
  return child;
}

function keyText(status) {
  if (status.error) return `key: ${status.error}`;
  if (status.configured) return `key: from ${status.source}`;
  if (status.required === false) return "no key: anonymous calls (rate-limited)";
  return `no key: set ${status.variable}`;
}

function endpointText(endpoint) {
  if (!endpoint?.host) return `endpoint: ${endpoint?.error || "unknown"}`;
  return `endpoint: ${endpoint.host}${endpoint.local ? " (this machine)" : ""}`;
}

const NUMBER = new Intl.NumberFormat(undefined, { maximumFractionDigits: 4 });

function limitText(limits) {
  return (limits ?? [])
    .map((limit) => limit.error ? limit.error : `${NUMBER.format(limit.images)} a day (${limit.variable})`)
    .join("; ");
}

const USD = new Intl.NumberFormat(undefined, { style: "currency", currency: "USD", maximumFractionDigits: 4 });

function budgetText(budgets) {
  return (budgets ?? [])
    .map((budget) => budget.error ? budget.error : `${USD.format(budget.usd)} a day (${budget.variable})`)
    .join("; ");
}

// Today's spend of one provider: a small table of what its calls came to.
function spendTable(parent, spend) {
  const rows = [["calls", `${spend.calls}${spend.failed ? ` (${spend.failed} failed)` : ""}`]];
  const returned = spend.returned !== spend.images ? ` (${NUMBER.format(spend.returned)} returned)` : "";
  rows.push(["images", `${NUMBER.format(spend.images)}${returned}`]);
  if (spend.limits?.length) rows.push(["limit", limitText(spend.limits)]);
  if (spend.credits !== undefined) rows.push(["credits", NUMBER.format(spend.credits)]);
  // money in US dollars, each figure marked: what the provider reported, the pack's estimate for the rest
  const money = [];
  if (spend.cost !== undefined) money.push(`${USD.format(spend.cost)} reported`);
  if (spend.usd_estimated !== undefined) money.push(`~${USD.format(spend.usd_estimated)} estimated`);
  if (spend.reserved_usd) money.push(`~${USD.format(spend.reserved_usd)} running`);
  if (money.length) rows.push(["money", money.join(" · ")]);
  if (spend.budgets?.length) rows.push(["budget", budgetText(spend.budgets)]);
  if (spend.input_tokens !== undefined || spend.output_tokens !== undefined) {
    rows.push(["tokens", `${NUMBER.format(spend.input_tokens ?? 0)} in · ${NUMBER.format(spend.output_tokens ?? 0)} out`]);
  } else if (spend.total_tokens !== undefined) {
    rows.push(["tokens", NUMBER.format(spend.total_tokens)]);
  }
  const table = line(parent, "table", "", "margin-top:6px;border-collapse:collapse;font-size:12px;width:100%");
  table.dataset.spend = "";
  for (const [name, value] of rows) {
    const row = table.insertRow();
    row.dataset.row = name;
    line(row, "td", name, "padding:1px 10px 1px 0;opacity:.75;white-space:nowrap;vertical-align:top;text-align:left");
    line(row, "td", value, "padding:1px 0;text-align:left;width:100%");
  }
}

async function renderKeyStatus(element) {
  element.replaceChildren();
  const panel = line(element, "div", "", "padding:12px;font-size:13px;line-height:1.45;overflow-wrap:anywhere");
  line(panel, "h3", S.sidebarTitle, "margin:0 0 4px;font-size:15px");
  line(panel, "p", "Keys stay on the server: this shows only whether each provider has one, where it comes from, and where its calls go.",
    "margin:0 0 4px;opacity:.75");
  const today = line(panel, "p", "", "margin:0 0 12px;opacity:.75");
  const check = line(panel, "button", S.checkProviders, "margin:0 0 12px;padding:4px 10px;cursor:pointer");
  check.title = "Endpoints, keys, what auto becomes, the example workflows' models, the catalogues' age: free calls only";
  const report = line(panel, "div", "");
  check.addEventListener("click", () => renderDoctor(check, report));
  const list = line(panel, "div", "Loading…");
  const unsaved = line(panel, "div", "", "margin-top:12px");
  try {
    // the spend is optional: without it (an older server) the key status still shows
    const [keys, spend] = await Promise.all([fetchJson(`${ROUTE}/keys`), fetchJson(`${ROUTE}/spend`).catch(() => null)]);
    if (spend) {
      today.textContent = `Today (${spend.date}, this machine's time), from the pack's spend journal: calls, images asked for, ` +
        "and the usage providers reported.";
      today.dataset.spendDate = spend.date;
    }
    list.replaceChildren();
    for (const [id, status] of Object.entries(keys)) {
      const item = line(list, "section", "", "margin:0 0 10px;padding:8px 10px;border-radius:6px;background:rgba(127,127,127,.12)");
      item.dataset.provider = id;
      line(item, "div", status.label || id, "font-weight:600");
      const key = line(item, "div", keyText(status));
      if (!status.configured && status.required !== false) key.style.color = "var(--p-orange-400, #e8a33d)";
      if (status.warning) line(item, "div", `warning: ${status.warning}`, "color:var(--p-orange-400, #e8a33d)");
      line(item, "div", endpointText(status.endpoint), "opacity:.85");
      if (spend?.providers?.[id]) spendTable(item, spend.providers[id]);
    }
  } catch (error) {
    list.textContent = `Could not read the key status: ${error.message || error}`;
  }
  renderUnsaved(unsaved);
}

// Paid results a failed or cancelled node saved: where they are, so none is lost from sight.
async function renderUnsaved(element) {
  let folders = [];
  try {
    folders = (await fetchJson(`${ROUTE}/unsaved`)).folders ?? [];
  } catch (_) {
    return; // an older server: nothing to show
  }
  element.replaceChildren();
  if (!folders.length) return;
  line(element, "h4", S.savedResults, "margin:0 0 4px;font-size:13px");
  const list = line(element, "ul", "", "margin:0;padding-left:16px");
  list.dataset.unsaved = "";
  for (const folder of folders) {
    const item = line(list, "li", "", "margin:0 0 4px");
    line(item, "div", `${folder.where} (${folder.files.length} file${folder.files.length === 1 ? "" : "s"})`);
    if (folder.subfolder) {
      for (const file of folder.files) {
        const link = line(item, "a", file, "margin-right:8px");
        const query = new URLSearchParams({ filename: file, subfolder: folder.subfolder, type: "output" });
        link.href = api.apiURL(`/view?${query}`);
        link.target = "_blank";
        link.rel = "noopener";
      }
    }
  }
}

// --- the doctor ----------------------------------------------------------------------------------

const LEVEL_STYLE = {
  ok: "opacity:.8",
  note: "opacity:.65",
  warning: "color:var(--p-orange-400, #e8a33d)",
  problem: "color:var(--p-red-400, #f06565);font-weight:600",
};

async function renderDoctor(button, element) {
  button.disabled = true;
  element.replaceChildren();
  line(element, "div", "Checking (model lists only, nothing is paid for)…", "opacity:.75");
  try {
    const report = await fetchJson(`${ROUTE}/doctor`);
    element.replaceChildren();
    element.dataset.doctor = "";
    const verdict = report.problems
      ? `${report.problems} problem(s): something a workflow relies on is broken`
      : `Nothing a workflow relies on is broken${report.warnings ? ` (${report.warnings} warning(s))` : ""}`;
    line(element, "div", `${report.date}: ${verdict}`, `margin:0 0 8px;${LEVEL_STYLE[report.problems ? "problem" : "ok"]}`);
    for (const provider of report.providers) {
      const item = line(element, "section", "", "margin:0 0 8px;padding:6px 10px;border-radius:6px;background:rgba(127,127,127,.08)");
      item.dataset.doctorProvider = provider.id;
      line(item, "div", provider.label, "font-weight:600");
      for (const finding of provider.findings) {
        const row = line(item, "div", `${finding.topic}: ${finding.text}`, LEVEL_STYLE[finding.level] ?? "");
        row.dataset.level = finding.level;
      }
    }
  } catch (error) {
    element.replaceChildren();
    line(element, "div", `The check failed: ${error.message || error}`, LEVEL_STYLE.problem);
  } finally {
    button.disabled = false;
  }
}
