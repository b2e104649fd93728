// Databricks' official JavaScript SDK (@databricks/sdk-experimental) as a Genie client: the
// benchmark's comparator (b).  It uses the SDK's own waiter (startConversation(...).wait(): polls
// getMessage at once, then sleeps attempt s + 50-750 ms jitter, capped at 10 s) and the SDK's own
// result fetching: genie.getMessageAttachmentQueryResult for the manifest and the first chunk, then
// statementExecution.getStatementResultChunkN for every further chunk (next_chunk_index), as
// genie_fdw reads them.  Every value of every row is touched; values stay strings.
//
// The SDK is pointed at the http emulator as in test/sdk_conformance/conformance.mjs: fixHost is
// overridden on the Config instance and a keep-alive http.Agent is passed.
//
// Usage: node sdk_client.mjs URL TOKEN SPACE QUESTION [QUESTION...]
// Prints one JSON object, like seed_client.py.
import http from "node:http";
import sdk from "@databricks/sdk-experimental";

const { WorkspaceClient, Config, Time, TimeUnits } = sdk;
const [url, token, space, ...questions] = process.argv.slice(2);

const cfg = new Config({ host: url, token, authType: "pat" });
cfg.fixHost = () => {};
const w = new WorkspaceClient(cfg, {
  agent: new http.Agent({ keepAlive: true }),
  product: "genie-fdw-bench",
  productVersion: "0.0.1",
});
const timeout = new Time(600, TimeUnits.seconds);
const now = () => Number(process.hrtime.bigint()) / 1e9;

async function ask(question) {
  const out = { question, polls: 0 };
  const t0 = now();
  const started = await w.genie.startConversation({ space_id: space, content: question });
  const msg = await started.wait({ timeout, onProgress: async () => { out.polls++; } });
  out.answered = now() - t0;
  const queries = (msg.attachments ?? []).filter((a) => a.query);
  if (queries.length === 0) throw new Error("no query attachment");
  const last = queries[queries.length - 1];
  const qr = await w.genie.getMessageAttachmentQueryResult({
    space_id: space, conversation_id: msg.conversation_id, message_id: msg.message_id,
    attachment_id: last.attachment_id,
  });
  const st = qr.statement_response;
  let result = st.result ?? {};
  let rows = 0, chunks = 0, values = 0;
  for (;;) {
    const data = result.data_array ?? [];
    if (chunks === 0) out.first_row = now() - t0;
    for (const row of data)
      for (const v of row)
        if (v !== null) values++;
    rows += data.length;
    chunks++;
    if (result.next_chunk_index === undefined || result.next_chunk_index === null) break;
    result = await w.statementExecution.getStatementResultChunkN({
      statement_id: st.statement_id, chunk_index: result.next_chunk_index,
    });
  }
  out.last_row = now() - t0;
  Object.assign(out, { rows, chunks, values });
  return out;
}

const t0 = now();
const results = [];
for (const q of questions) results.push(await ask(q));
const wall = now() - t0;
console.log(JSON.stringify({
  client: "js-sdk", wall, results, maxrss_kb: process.resourceUsage().maxRSS,
}));
