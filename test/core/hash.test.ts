import { hashOf } from "../../src/core/hash";

describe("hashOf", () => {
  it("is a sha256 hex digest", () => {
    expect(hashOf({ email: "a@b.c" }, ["subscriber"])).toMatch(/^[0-9a-f]{64}$/);
  });

  it("does not depend on the order of fields or roles", () => {
    expect(hashOf({ email: "a@b.c", name: "A" }, ["editor", "author"])).toBe(
      hashOf({ name: "A", email: "a@b.c" }, ["author", "editor"]),
    );
  });

  it("changes when a value, a field or a role changes", () => {
    const base = hashOf({ email: "a@b.c", name: "A" }, ["editor"]);
    expect(hashOf({ email: "a@b.c", name: "B" }, ["editor"])).not.toBe(base);
    expect(hashOf({ email: "a@b.c" }, ["editor"])).not.toBe(base);
    expect(hashOf({ email: "a@b.c", name: "A" }, ["author"])).not.toBe(base);
  });

  it("tells roles left alone apart from no roles", () => {
    expect(hashOf({ email: "a@b.c" }, undefined)).not.toBe(hashOf({ email: "a@b.c" }, []));
  });

  it("cannot be fooled by values that contain separators", () => {
    expect(hashOf({ a: 'x","b":"y' }, [])).not.toBe(hashOf({ a: "x", b: "y" }, []));
  });

  it("keeps its canonical form, since a change would rewrite every mapped user once", () => {
    expect(hashOf({ email: "a@b.c" }, ["subscriber"])).toBe(
      "55107d83d87230de44ff46933490b11b6666a897e46e9649d7d3e7c98d02a3e2",
    );
  });
});
