// A Restate service endpoint (Restate TypeScript/JS SDK 1.17.2, ES module) for the
// Restate-compatibility tests: kafka-ingress pointed at a real Restate server's HTTP ingress,
// which invokes these handlers.
//
//   Counter (virtual object, keyed)
//     add  exclusive  input: any JSON, e.g. {"n": 5, "seq": 3}; appends it to state "seen",
//                     increments state "count", returns {"count": <new count>}
//     get  shared     returns {"count": <count>, "seen": [<inputs, in order>]}
//   Svc (service)
//     echo            returns its input
//     fail            throws a TerminalError: input {"message": "...", "code": 400}
//
// Listens on $PORT (default 9080), HTTP/2 without TLS (h2c), as the SDK serves it. Run it from
// the directory scripts/restate-server.sh installs into, so that `@restatedev/restate-sdk`
// resolves from that directory's node_modules:
//
//   node "$(scripts/restate-server.sh | tail -n1)/endpoint.mjs"

// The SDK calls Promise.withResolvers (Node >= 22); Node 20 lacks it.
if (typeof Promise.withResolvers !== "function") {
  Promise.withResolvers = function withResolvers() {
    let resolve;
    let reject;
    const promise = new this((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

// Imported after the polyfill (a static import would be evaluated before it).
const restate = await import("@restatedev/restate-sdk");

const counter = restate.object({
  name: "Counter",
  handlers: {
    add: async (ctx, input) => {
      const seen = (await ctx.get("seen")) ?? [];
      seen.push(input === undefined ? null : input);
      const count = ((await ctx.get("count")) ?? 0) + 1;
      ctx.set("seen", seen);
      ctx.set("count", count);
      return { count };
    },
    get: restate.handlers.object.shared(async (ctx) => {
      return {
        count: (await ctx.get("count")) ?? 0,
        seen: (await ctx.get("seen")) ?? [],
      };
    }),
  },
});

const svc = restate.service({
  name: "Svc",
  handlers: {
    echo: async (_ctx, input) => (input === undefined ? null : input),
    // Fails with a terminal error: input {"message": "...", "code": 400}.
    fail: async (_ctx, input) => {
      throw new restate.TerminalError(input?.message ?? "failed", {
        errorCode: input?.code ?? 500,
      });
    },
  },
});

// For scripts/bench-ingress.sh's Restate peer: BenchObject/hit (virtual object, exclusive)
// and BenchService/hit do nothing but count, in this process; with STATS_PORT set,
// `GET http://127.0.0.1:$STATS_PORT/` answers "<count> <first us> <last us>" (microseconds
// since the endpoint started).
const started = process.hrtime.bigint();
const hits = { count: 0, first: 0n, last: 0n };
const hit = async () => {
  const now = (process.hrtime.bigint() - started) / 1000n;
  if (hits.count === 0) hits.first = now;
  hits.count += 1;
  hits.last = now;
  return null;
};
const benchObject = restate.object({ name: "BenchObject", handlers: { hit } });
const benchService = restate.service({ name: "BenchService", handlers: { hit } });
if (process.env.STATS_PORT) {
  const http = await import("node:http");
  http
    .createServer((_req, res) => res.end(`${hits.count} ${hits.first} ${hits.last}`))
    .listen(Number.parseInt(process.env.STATS_PORT, 10), "127.0.0.1");
}

const port = Number.parseInt(process.env.PORT ?? "9080", 10);
if (!Number.isInteger(port) || port < 0 || port > 65535) {
  console.error(`restate-endpoint: bad PORT: ${process.env.PORT}`);
  process.exit(2);
}

const bound = await restate
  .endpoint()
  .bind(counter)
  .bind(svc)
  .bind(benchObject)
  .bind(benchService)
  .listen(port);
console.log(`restate-endpoint: listening on port ${bound ?? port} (h2c)`);
