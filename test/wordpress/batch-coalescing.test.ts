import { type BatchOp, type BatchResult, makeBatcher, type SendBatch } from "../../src/wordpress/batch";

/** A send whose requests the test answers by hand, one result per operation echoing its id. */
function manualSend() {
  const requests: Array<{ ops: BatchOp[]; answer(results?: BatchResult[]): void; fail(error: unknown): void }> = [];
  const send: SendBatch = (ops) =>
    new Promise((resolve, reject) => {
      requests.push({
        ops,
        answer: (results) =>
          resolve({
            results:
              results ??
              ops.map((op) => ({ status: 200, outcome: "updated", user: { id: (op as { id: number }).id } })),
            afterAmbiguousFailure: false,
          }),
        fail: reject,
      });
    });
  return { send, requests };
}

const update = (id: number): BatchOp => ({ op: "update", id, body: { first_name: `n${id}` } });
const turn = () => new Promise((resolve) => setImmediate(resolve));

describe("batch coalescing", () => {
  it("sends the writes of one turn in one request and gives each caller its own result", async () => {
    const { send, requests } = manualSend();
    const write = makeBatcher(send, { max: 50, inFlight: 2 });
    const answers = [1, 2, 3].map((id) => write(update(id)));
    await turn();
    expect(requests.map((r) => r.ops.length)).toEqual([3]);
    requests[0]!.answer();
    const results = await Promise.all(answers);
    expect(results.map((a) => (a.result.user as { id: number }).id)).toEqual([1, 2, 3]);
  });

  it("keeps at most inFlight requests and sends what waited meanwhile together, at most max at a time", async () => {
    const { send, requests } = manualSend();
    const write = makeBatcher(send, { max: 3, inFlight: 1 });
    const first = write(update(1));
    await turn();
    const later = [2, 3, 4, 5, 6].map((id) => write(update(id)));
    await turn();
    expect(requests).toHaveLength(1); // the one slot is taken
    requests[0]!.answer();
    await first;
    await turn();
    expect(requests.map((r) => r.ops.map((op) => (op as { id: number }).id))).toEqual([[1], [2, 3, 4]]);
    requests[1]!.answer();
    await turn();
    expect(requests[2]!.ops.map((op) => (op as { id: number }).id)).toEqual([5, 6]);
    requests[2]!.answer();
    await expect(Promise.all(later)).resolves.toHaveLength(5);
  });

  it("fails the writes of a failed request only, and keeps sending the others", async () => {
    const { send, requests } = manualSend();
    const write = makeBatcher(send, { max: 2, inFlight: 2 });
    const answers = [1, 2, 3].map((id) =>
      write(update(id)).then(
        () => "ok",
        (e: Error) => e.message,
      ),
    );
    await turn();
    requests[0]!.fail(new Error("down"));
    requests[1]!.answer();
    expect(await Promise.all(answers)).toEqual(["down", "down", "ok"]);
  });

  it("refuses an answer with fewer results than operations instead of guessing", async () => {
    const { send, requests } = manualSend();
    const write = makeBatcher(send, { max: 50, inFlight: 2 });
    const answers = [1, 2].map((id) =>
      write(update(id)).then(
        () => "ok",
        (e: Error) => e.message,
      ),
    );
    await turn();
    requests[0]!.answer([{ status: 200, outcome: "updated" }]);
    expect(await Promise.all(answers)).toEqual(["ok", "WordPress batch answered 1 results for 2 operations"]);
  });

  it("refuses every operation of an answer with more results than operations", async () => {
    const { send, requests } = manualSend();
    const write = makeBatcher(send, { max: 50, inFlight: 2 });
    const answers = [1, 2].map((id) =>
      write(update(id)).then(
        () => "ok",
        (e: Error) => e.message,
      ),
    );
    await turn();
    const updated = { status: 200, outcome: "updated" as const };
    requests[0]!.answer([updated, updated, updated]);
    const refused = "WordPress batch answered 3 results for 2 operations";
    expect(await Promise.all(answers)).toEqual([refused, refused]);
  });
});
