/**
 * deploy/kubernetes/ holds manifests a cluster accepts and the service can run with: each one is
 * valid against the Kubernetes API schemas (kubernetes-models), every variable they set is one
 * the service reads, the grace period outlasts a step, the pods run locked down, and the example
 * Secret's placeholders are refused by the service rather than used.
 */
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseAllDocuments } from "yaml";
import { loadConfig } from "../../src/config";
import { ConfigError } from "../../src/core/errors";
import { loadJobs } from "../../src/sync/jobs";
import { serviceVariables } from "../helpers/service-variables";

const dir = path.resolve(__dirname, "../../deploy/kubernetes");

// biome-ignore lint/suspicious/noExplicitAny: manifests are untyped YAML, checked field by field below.
type Manifest = Record<string, any>;

/** Every document of every manifest: those kubectl applies (the directory) and the examples. */
function manifests(): { file: string; doc: Manifest }[] {
  const files = [
    ...fs.readdirSync(dir).filter((f) => f.endsWith(".yaml")),
    ...fs.readdirSync(path.join(dir, "examples")).map((f) => `examples/${f}`),
  ];
  return files.flatMap((file) =>
    parseAllDocuments(fs.readFileSync(path.join(dir, file), "utf8")).map((parsed) => {
      if (parsed.errors.length > 0) throw new Error(`${file}: ${parsed.errors[0]!.message}`);
      return { file, doc: parsed.toJS() as Manifest };
    }),
  );
}

/** Validates against the API schema of the manifest's apiVersion and kind; throws naming what is wrong. */
function validate(doc: Manifest): void {
  const [group, version] = String(doc.apiVersion).includes("/") ? doc.apiVersion.split("/") : ["", doc.apiVersion];
  const module = `kubernetes-models/${group ? `${group}/` : ""}${version}/${doc.kind}`;
  // kubernetes-models has one module per kind: the manifest names which.
  const Model = require(module)[doc.kind];
  new Model(doc).validate();
}

const all = manifests();
const only = (kind: string, name?: string) =>
  all.filter(({ doc }) => doc.kind === kind && (name === undefined || doc.metadata?.name === name)).map((m) => m.doc);
const deployment = () => only("Deployment")[0]!;
const container = () => deployment().spec.template.spec.containers[0];
/** The variables the container gets: env by name, and every key of a Secret or ConfigMap it takes whole (envFrom). */
function variablesSet(): string[] {
  const c = container();
  const names: string[] = (c.env ?? []).map((e: Manifest) => e.name);
  for (const from of c.envFrom ?? []) {
    const ref = from.secretRef ?? from.configMapRef;
    const source = only(from.secretRef ? "Secret" : "ConfigMap", ref.name)[0];
    if (!source) throw new Error(`envFrom names ${ref.name}, which no manifest declares`);
    names.push(...Object.keys({ ...source.data, ...source.stringData }).map((k) => `${from.prefix ?? ""}${k}`));
  }
  return names;
}
/** The container's environment as the service would see it, the example Secret's values filled in. */
function environment(): Record<string, string> {
  const secret = only("Secret", "entra-wp-sync")[0]!.stringData;
  return Object.fromEntries(
    container().env.map((e: Manifest) => [e.name, e.value ?? secret[e.valueFrom.secretKeyRef.key]]),
  );
}

describe("deploy/kubernetes", () => {
  it.each(all.map((m) => [`${m.file}: ${m.doc.kind} ${m.doc.metadata?.name}`, m.doc]))(
    "%s is valid against the Kubernetes API schemas",
    (_, doc) => {
      expect(() => validate(doc as Manifest)).not.toThrow();
    },
  );

  it("refuses a manifest the API would refuse (the validation can fail)", () => {
    const broken = structuredClone(deployment());
    broken.spec.replicas = "two";
    delete broken.spec.selector;
    expect(() => validate(broken)).toThrow(/selector.*replicas must be integer|replicas must be integer/s);
    expect(() => validate({ ...deployment(), kind: "Deploymnet" })).toThrow();
  });

  it("declares two replicas, probes, a disruption budget and a Service for the same pods", () => {
    const spec = deployment().spec;
    expect(spec.replicas).toBe(2);
    expect(container().livenessProbe.httpGet.path).toBe("/healthz");
    expect(container().readinessProbe.httpGet.path).toBe("/readyz");
    const labels = spec.template.metadata.labels;
    const [pdb] = only("PodDisruptionBudget");
    const [service] = only("Service");
    expect(labels).toMatchObject(pdb!.spec.selector.matchLabels);
    expect(labels).toMatchObject(service!.spec.selector);
    expect(pdb!.spec.minAvailable).toBe(1);
    expect(container().resources.requests.memory).toBeDefined();
    expect(container().resources.limits.memory).toBeDefined();
  });

  it("sets only variables the service reads", () => {
    const read = new Set(serviceVariables());
    expect(variablesSet().filter((name) => !read.has(name))).toEqual([]);
  });

  it("takes every secret from the Secret, whose example declares each key it references", () => {
    const env: Manifest[] = container().env;
    const secretKeys = Object.keys(only("Secret", "entra-wp-sync")[0]!.stringData);
    for (const name of ["DATABASE_URL", "ADMIN_TOKEN", "LINK_SIGNING_KEYS", "AZURE_CLIENT_SECRET", "WP_APP_PASSWORD"]) {
      const entry = env.find((e) => e.name === name);
      expect(entry?.value).toBeUndefined();
      expect(entry?.valueFrom?.secretKeyRef).toEqual({ name: "entra-wp-sync", key: name });
      expect(secretKeys).toContain(name);
    }
  });

  it("gives a stopping pod longer than STEP_BUDGET_MS, which it sets explicitly", () => {
    const budget = Number(environment().STEP_BUDGET_MS);
    expect(Number.isInteger(budget)).toBe(true);
    expect(deployment().spec.template.spec.terminationGracePeriodSeconds * 1000).toBeGreaterThan(budget);
  });

  it("runs locked down: non-root, read-only root, no escalation, no capabilities, RuntimeDefault seccomp", () => {
    const pod = deployment().spec.template.spec;
    const sc = container().securityContext;
    expect(pod.securityContext.runAsNonRoot).toBe(true);
    expect(pod.securityContext.runAsUser).toBeGreaterThan(0);
    expect(sc).toMatchObject({
      runAsNonRoot: true,
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(sc.privileged).not.toBe(true);
    expect(sc.capabilities.add).toBeUndefined();
    // Where the service may write (DATA_DIR) is a writable emptyDir, not the read-only root.
    const volumes = new Map(pod.volumes.map((v: Manifest) => [v.name, v]));
    const dataMount = container().volumeMounts.find((m: Manifest) => m.mountPath === environment().DATA_DIR);
    expect((volumes.get(dataMount?.name) as Manifest | undefined)?.emptyDir).toBeDefined();
  });

  it("mounts the jobs file from the ConfigMap where SYNC_JOBS_FILE names it, and the service accepts it", () => {
    const jobsFile = environment().SYNC_JOBS_FILE!;
    const mount = container().volumeMounts.find((m: Manifest) => m.mountPath === path.posix.dirname(jobsFile));
    const volume = deployment().spec.template.spec.volumes.find((v: Manifest) => v.name === mount?.name);
    const configMap = only("ConfigMap", volume?.configMap?.name)[0];
    const text = configMap?.data?.[path.posix.basename(jobsFile)];
    expect(typeof text).toBe("string");
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "k8s-jobs-")), "jobs.json");
    try {
      fs.writeFileSync(file, text);
      expect(loadJobs({ jobsFile: file, syncEnv: {}, publicUrl: environment().PUBLIC_URL! }).map((j) => j.id)).toEqual([
        "staff",
      ]);
    } finally {
      fs.rmSync(path.dirname(file), { recursive: true, force: true });
    }
  });

  it("the example Secret's placeholders stop the start instead of becoming a known admin token", () => {
    expect(() => loadConfig(environment())).toThrow(ConfigError);
    expect(() => loadConfig(environment())).toThrow(/ADMIN_TOKEN must be at least 24 characters/);
    const withToken = { ...environment(), ADMIN_TOKEN: "x".repeat(32) };
    expect(() => loadConfig(withToken)).toThrow(/LINK_SIGNING_KEYS key "k1" must have a secret of at least 32/);
  });
});
