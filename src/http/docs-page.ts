/**
 * /docs: openapi.yaml rendered on the server as one self-contained HTML page (no scripts, no
 * CDN: many of the networks this runs on have no internet access).
 */
import { escapeHtml } from "./html";

type Json = Record<string, unknown>;
const METHODS = ["get", "head", "post", "put", "patch", "delete"] as const;

const asObject = (value: unknown): Json => (value && typeof value === "object" ? (value as Json) : {});

function refName(schema: unknown): string | null {
  const ref = asObject(schema).$ref;
  return typeof ref === "string" ? ref.split("/").pop()! : null;
}

/** A short, readable type: `RunSummary`, `string (uuid)`, `array of RunItem`, `"a" | "b"`. */
function typeOf(schema: unknown): string {
  const s = asObject(schema);
  const ref = refName(s);
  if (ref) return `<a href="#schema-${escapeHtml(ref)}">${escapeHtml(ref)}</a>`;
  if (Array.isArray(s.enum)) return s.enum.map((v) => escapeHtml(JSON.stringify(v))).join(" | ");
  for (const key of ["oneOf", "anyOf"]) {
    if (Array.isArray(s[key])) return (s[key] as unknown[]).map(typeOf).join(" | ");
  }
  const type = Array.isArray(s.type) ? s.type.join(" | ") : String(s.type ?? "any");
  if (type === "array") return `array of ${typeOf(s.items)}`;
  return escapeHtml(s.format ? `${type} (${s.format})` : type);
}

function resolve(spec: Json, value: unknown): Json {
  const ref = asObject(value).$ref;
  if (typeof ref !== "string" || !ref.startsWith("#/")) return asObject(value);
  let node: unknown = spec;
  for (const part of ref.slice(2).split("/")) node = asObject(node)[part];
  return asObject(node);
}

function operationHtml(spec: Json, path: string, method: string, op: Json): string {
  const params = (Array.isArray(op.parameters) ? op.parameters : []).map((p) => resolve(spec, p));
  const rows = params
    .map(
      (p) =>
        `<tr><td><code>${escapeHtml(p.name)}</code></td><td>${escapeHtml(p.in)}</td><td>${p.required ? "yes" : ""}</td>` +
        `<td>${typeOf(p.schema)}</td><td>${escapeHtml(p.description)}</td></tr>`,
    )
    .join("");
  const body = asObject(op.requestBody);
  const bodyTypes = Object.entries(asObject(body.content))
    .map(([type, media]) => `<code>${escapeHtml(type)}</code>: ${typeOf(asObject(media).schema)}`)
    .join("<br>");
  const responses = Object.entries(asObject(op.responses))
    .map(([code, response]) => {
      const r = resolve(spec, response);
      const types = Object.entries(asObject(r.content))
        .map(([type, media]) => `<code>${escapeHtml(type)}</code> ${typeOf(asObject(media).schema)}`)
        .join(", ");
      return `<tr><td><b>${escapeHtml(code)}</b></td><td>${escapeHtml(r.description)}</td><td>${types}</td></tr>`;
    })
    .join("");
  const security = Array.isArray(op.security) ? op.security : spec.security;
  const auth =
    (Array.isArray(security) &&
      security.map((entry) => Object.keys(asObject(entry)).join(" + ") || "none").join(" or ")) ||
    "none";
  return `<section class="op" id="${escapeHtml(`${method}-${path}`)}">
<h3><span class="method ${method}">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code></h3>
<p><b>${escapeHtml(op.summary)}</b></p>${op.description ? `<p>${escapeHtml(op.description)}</p>` : ""}
<p class="auth">Authentication: ${escapeHtml(auth)}</p>
${rows ? `<table><tr><th>Parameter</th><th>In</th><th>Required</th><th>Type</th><th>Description</th></tr>${rows}</table>` : ""}
${bodyTypes ? `<p>Request body${body.required ? "" : " (optional)"}: ${bodyTypes}</p>` : ""}
<table><tr><th>Status</th><th>Meaning</th><th>Body</th></tr>${responses}</table>
</section>`;
}

function schemaHtml(name: string, schema: Json): string {
  const required = new Set(Array.isArray(schema.required) ? (schema.required as string[]) : []);
  const rows = Object.entries(asObject(schema.properties))
    .map(([prop, value]) => {
      const p = asObject(value);
      return `<tr><td><code>${escapeHtml(prop)}</code>${required.has(prop) ? "" : "?"}</td><td>${typeOf(p)}</td><td>${escapeHtml(p.description)}</td></tr>`;
    })
    .join("");
  return `<section id="schema-${escapeHtml(name)}"><h3>${escapeHtml(name)}</h3>${schema.description ? `<p>${escapeHtml(schema.description)}</p>` : ""}
${rows ? `<table><tr><th>Field</th><th>Type</th><th>Description</th></tr>${rows}</table>` : `<p>${typeOf(schema)}</p>`}</section>`;
}

export function renderDocsPage(spec: Json): string {
  const info = asObject(spec.info);
  const operations: string[] = [];
  const index: string[] = [];
  for (const [path, item] of Object.entries(asObject(spec.paths))) {
    for (const method of METHODS) {
      const op = asObject(asObject(item)[method]);
      if (Object.keys(op).length === 0) continue;
      operations.push(operationHtml(spec, path, method, op));
      index.push(
        `<li><a href="#${escapeHtml(`${method}-${path}`)}"><span class="method ${method}">${method.toUpperCase()}</span> <code>${escapeHtml(path)}</code></a> ${escapeHtml(op.summary)}</li>`,
      );
    }
  }
  const schemas = Object.entries(asObject(asObject(spec.components).schemas)).map(([name, schema]) =>
    schemaHtml(name, asObject(schema)),
  );
  const schemes = Object.entries(asObject(asObject(spec.components).securitySchemes))
    .map(([name, scheme]) => `<li><code>${escapeHtml(name)}</code>: ${escapeHtml(asObject(scheme).description)}</li>`)
    .join("\n");
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(info.title)} API</title>
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}
code{font:13px ui-monospace,monospace}table{border-collapse:collapse;margin:.5rem 0;width:100%}
th,td{border:1px solid #ddd;padding:.25rem .5rem;text-align:left;vertical-align:top}th{background:#f5f5f5}
.op{border-top:1px solid #ccc;margin-top:1.5rem}.method{display:inline-block;min-width:3.5rem;font:bold 12px monospace;
padding:.1rem .3rem;border-radius:3px;color:#fff;background:#555;text-align:center}.get{background:#1f6feb}
.post{background:#1a7f37}.head{background:#6e7781}.auth{color:#555}ul{padding-left:1rem}li{list-style:none}
</style></head><body>
<h1>${escapeHtml(info.title)} <small>${escapeHtml(info.version)}</small></h1>
<p>${escapeHtml(info.description)}</p>
<p>The machine-readable description: <a href="/openapi.yaml">openapi.yaml</a> (OpenAPI ${escapeHtml(spec.openapi)}).</p>
<h2>Authentication</h2><ul>${schemes}</ul>
<h2>Endpoints</h2><ul>${index.join("\n")}</ul>
${operations.join("\n")}
<h2>Schemas</h2>${schemas.join("\n")}
</body></html>`;
}
