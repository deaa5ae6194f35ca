/**
 * docker-compose.yml and the Dockerfile, checked as configuration (no Docker engine in the test
 * environment): .env is the one source of settings, PORT moves the mapping and the healthcheck
 * together, every service that others wait for has a healthcheck, and no volume is anonymous.
 */
import fs from "node:fs";
import path from "node:path";
import { parse } from "yaml";

const root = path.resolve(__dirname, "..");
const compose = parse(fs.readFileSync(path.join(root, "docker-compose.yml"), "utf8")) as {
  services: Record<
    string,
    {
      environment?: Record<string, string>;
      env_file?: string[];
      ports?: string[];
      volumes?: string[];
      healthcheck?: unknown;
      depends_on?: Record<string, { condition: string }>;
    }
  >;
  volumes: Record<string, unknown>;
};
const dockerfile = fs.readFileSync(path.join(root, "Dockerfile"), "utf8");

/** Compose's interpolation of ${NAME:-default} and ${NAME} against the variables of a .env file. */
function interpolate(value: string, dotEnv: Record<string, string>): string {
  return value.replace(/\$\{([A-Z_]+)(?::-([^}]*))?\}/g, (_, name: string, fallback?: string) =>
    dotEnv[name] ? dotEnv[name]! : (fallback ?? ""),
  );
}

describe("docker-compose.yml", () => {
  const service = compose.services.service!;

  it("takes the service's settings from .env and overrides none of them with a fixed value", () => {
    expect(service.env_file).toEqual([".env"]);
    for (const [name, value] of Object.entries(service.environment ?? {})) {
      // Only defaults for what .env leaves unset: ${NAME:-default} of the same name.
      expect({ name, value }).toEqual({ name, value: expect.stringMatching(new RegExp(`^\\$\\{${name}:-[^}]+\\}$`)) });
    }
    expect(service.environment).not.toHaveProperty("PUBLIC_URL");
    const fromDotEnv = { DATABASE_URL: "postgres://me@db.example:5432/sync", WP_URL: "https://wp.example" };
    expect(interpolate(service.environment!.DATABASE_URL!, fromDotEnv)).toBe(fromDotEnv.DATABASE_URL);
    expect(interpolate(service.environment!.DATABASE_URL!, {})).toBe(
      "postgres://entra:entra@postgres:5432/entra_wp_sync",
    );
  });

  it("publishes PORT from .env on the same port inside, where the image's healthcheck asks", () => {
    expect(service.ports).toHaveLength(1);
    expect(interpolate(service.ports![0]!, { PORT: "3100" })).toBe("3100:3100");
    expect(interpolate(service.ports![0]!, {})).toBe("3000:3000");
    const healthcheck = dockerfile.match(/^HEALTHCHECK .*$/m)?.[0];
    expect(healthcheck).toContain("process.env.PORT");
  });

  it("waits for healthy databases: every depends_on target has a healthcheck", () => {
    for (const [name, definition] of Object.entries(compose.services)) {
      for (const [target, { condition }] of Object.entries(definition.depends_on ?? {})) {
        expect({ name, target, condition }).toEqual({ name, target, condition: "service_healthy" });
        expect(compose.services[target]?.healthcheck).toBeDefined();
      }
    }
    expect(compose.services.wordpress!.depends_on).toHaveProperty("wordpress-db");
  });

  it("leaves no anonymous volume: every mount is named and declared, every declared volume is used", () => {
    const used = new Set<string>();
    for (const definition of Object.values(compose.services)) {
      for (const mount of definition.volumes ?? []) {
        const source = mount.split(":")[0]!;
        if (source.startsWith(".")) continue; // a file of the repository
        expect(compose.volumes).toHaveProperty(source);
        used.add(source);
      }
    }
    expect([...used].sort()).toEqual(Object.keys(compose.volumes).sort());
    // A VOLUME line would make an anonymous volume at every container creation, used or not.
    expect(dockerfile).not.toMatch(/^VOLUME/m);
    // The wordpress image declares /var/www/html a volume: it is mounted by name.
    expect(compose.services.wordpress!.volumes).toContain("wpfiles:/var/www/html");
  });
});
