// Hosted Image APIs: a refresh button beside each model list, and a view of which providers
// have keys. Keys never reach the browser: the server fetches model lists with them and only
// says whether a key is configured and from where.
//
// Everything here is optional sugar: on a frontend without these APIs it does nothing, and the
// model inputs still accept any name in API-format workflows.
import { app } from "../../scripts/app.js";
import { api } from "../../scripts/api.js";

const ROUTE = "/hosted_images";

function notify(severity, summary, detail) {
  const toast = app.extensionManager?.toast;
  if (toast?.add) {
    toast.add({ severity, summary, detail, life: severity === "error" ? 8000 : 3000 });
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
    throw new Error(body.error || `HTTP ${response.status}`);
  }
  return body;
}

// Reload a model combo's options from the provider, keeping the current value selectable.
export async function refreshModels(node, widget, provider) {
  const body = await fetchJson(`${ROUTE}/models/${encodeURIComponent(provider)}?refresh=1`);
  const current = widget.value;
  const models = Array.from(new Set([current, ...body.models].filter(Boolean)));
  widget.options.values = models;
  widget.value = current;
  node.setDirtyCanvas?.(true, true);
  return models;
}

function modelSpec(nodeData) {
  for (const section of ["required", "optional"]) {
    const spec = nodeData?.input?.[section]?.model;
    const provider = spec?.[1]?.hosted_images_provider;
    if (provider) return provider;
  }
  return null;
}

app.registerExtension({
  name: "HostedImages.ModelRefresh",

  async beforeRegisterNodeDef(nodeType, nodeData) {
    const provider = modelSpec(nodeData);
    if (!provider) return;
    const onNodeCreated = nodeType.prototype.onNodeCreated;
    nodeType.prototype.onNodeCreated = function () {
      const result = onNodeCreated?.apply(this, arguments);
      const widget = this.widgets?.find((w) => w.name === "model");
      if (widget && typeof this.addWidget === "function") {
        const button = this.addWidget("button", "refresh models", null, async () => {
          try {
            const models = await refreshModels(this, widget, provider);
            notify("success", "Model list refreshed", `${models.length} models from ${provider}`);
          } catch (error) {
            notify("error", `Could not load ${provider} models`, String(error.message || error));
          }
        });
        // A button holds no value: keep it out of saved workflows so widget counts stay stable.
        button.serialize = false;
        button.options = { ...(button.options || {}), serialize: false };
      }
      return result;
    };
  },

  async setup() {
    const sidebar = app.extensionManager?.registerSidebarTab;
    if (typeof sidebar !== "function") return;
    app.extensionManager.registerSidebarTab({
      id: "hosted-images-keys",
      icon: "pi pi-key",
      title: "Hosted Images",
      tooltip: "Which hosted image providers have keys",
      type: "custom",
      render: async (element) => {
        element.textContent = "Loading…";
        try {
          const keys = await fetchJson(`${ROUTE}/keys`);
          const table = document.createElement("table");
          table.style.cssText = "margin:8px;border-collapse:collapse;font-size:13px";
          for (const [id, status] of Object.entries(keys)) {
            const row = table.insertRow();
            row.insertCell().textContent = status.label || id;
            const state = row.insertCell();
            state.textContent = status.configured
              ? `key from ${status.source}`
              : status.required === false
                ? "no key (anonymous, rate-limited)"
                : `no key: set ${status.variable}`;
            state.style.padding = "2px 8px";
            if (status.warning) state.title = status.warning;
          }
          element.replaceChildren(table);
        } catch (error) {
          element.textContent = `Could not read key status: ${error.message || error}`;
        }
      },
    });
  },
});
