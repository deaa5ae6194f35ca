import { ConfigError } from "../../src/core/errors";

/** The ConfigError message of fn, failing the test when it does not throw one. */
export function configErrorOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error("expected a ConfigError");
}
