/** The console's one page: plain HTML and a script that calls the console's JSON API (console/server.ts). */
export const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>c360 quarantine</title>
<style>
  body { font: 14px system-ui, sans-serif; margin: 1.5rem; color: #1d2330; }
  h1 { font-size: 1.3rem; } h2 { font-size: 1.05rem; margin-top: 1.5rem; }
  table { border-collapse: collapse; } td, th { padding: .25rem .6rem; border-bottom: 1px solid #dde; text-align: left; }
  tbody tr { cursor: pointer; } tbody tr:hover { background: #eef3ff; }
  pre { background: #f6f7f9; padding: .75rem; max-width: 70rem; overflow: auto; }
  .row { display: flex; gap: .5rem; align-items: end; flex-wrap: wrap; }
  label { display: flex; flex-direction: column; font-size: .8rem; }
  #error { color: #b00020; }
</style>
</head>
<body>
<h1>Quarantine of <span id="namespace"></span></h1>
<div class="row">
  <label>Source <select id="source"><option value="">any</option></select></label>
  <label>Day <input id="date" placeholder="YYYY-MM-DD" size="11"></label>
  <label>Code <input id="code" placeholder="quality.email_invalid" size="28"></label>
  <button id="apply">Apply</button>
</div>
<p id="error" role="alert"></p>
<h2>Counts by source, day and code</h2>
<table id="counts"><thead><tr><th>source</th><th>day</th><th>code</th><th>records</th></tr></thead><tbody></tbody></table>
<h2>Records</h2>
<table id="records"><thead><tr><th>ingest id</th><th>source</th><th>day</th><th>codes</th><th>stage</th></tr></thead><tbody></tbody></table>
<h2>Record</h2>
<button id="unmask" disabled>Unmask (recorded in the access log)</button>
<pre id="detail">Pick a record.</pre>
<h2>Replay the filtered records</h2>
<div class="row"><button id="preview">Preview</button><button id="replay" disabled>Replay</button></div>
<p id="replay-result"></p>
<table><thead><tr><th></th><th>in</th><th>raw</th><th>duplicates</th><th>dead letters</th><th>suppressed</th></tr></thead>
<tbody><tr id="ledger-before"><th>ledger before</th></tr><tr id="ledger-after"><th>ledger now</th></tr></tbody></table>
<script>
const $ = (id) => document.getElementById(id);
let about = { canUnmask: false, sources: [] };
let picked;
/** The ledger's totals when the replay was previewed: what the counts after it are compared with. */
let before = { in: 0 };
const filter = () => {
  const f = {};
  for (const k of ['source', 'date', 'code']) if ($(k).value.trim()) f[k] = $(k).value.trim();
  return f;
};
async function call(path, body) {
  const answer = await fetch(path, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const data = await answer.json();
  if (!answer.ok) throw new Error(data.error || answer.status);
  $('error').textContent = '';
  return data;
}
const cell = (tr, text) => { const td = document.createElement('td'); td.textContent = text; tr.append(td); };
function ledgerRow(id, t) {
  const tr = $(id);
  while (tr.children.length > 1) tr.lastChild.remove();
  for (const k of ['in', 'raw', 'duplicates', 'dead_letter', 'suppressed']) cell(tr, String(t[k] ?? 0));
}
async function load() {
  try {
    const q = new URLSearchParams(filter());
    const { counts } = await call('/api/counts?' + q);
    const cb = $('counts').tBodies[0]; cb.replaceChildren();
    for (const c of counts) {
      const tr = document.createElement('tr');
      for (const v of [c.source, c.date, c.code, String(c.records)]) cell(tr, v);
      tr.onclick = () => { $('source').value = c.source; $('date').value = c.date; $('code').value = c.code; load(); };
      cb.append(tr);
    }
    const { records } = await call('/api/records?' + q);
    const rb = $('records').tBodies[0]; rb.replaceChildren();
    for (const r of records) {
      const tr = document.createElement('tr');
      for (const v of [r.ingest_id, r.source, r.date, r.errors.map((e) => e.code).join(', '), r.stage]) cell(tr, v);
      tr.onclick = () => { picked = r; $('detail').textContent = JSON.stringify(r, null, 2); $('unmask').disabled = !about.canUnmask; };
      rb.append(tr);
    }
    $('replay').disabled = true; $('replay-result').textContent = '';
  } catch (e) { $('error').textContent = e.message; }
}
$('apply').onclick = load;
$('unmask').onclick = async () => {
  try { const { record } = await call('/api/unmask', { ingestId: picked.ingest_id }); $('detail').textContent = JSON.stringify(record, null, 2); }
  catch (e) { $('error').textContent = e.message; }
};
$('preview').onclick = async () => {
  try {
    before = (await call('/api/ledger')).total;
    ledgerRow('ledger-before', before);
    const r = await call('/api/replay', { ...filter(), dryRun: true });
    $('replay-result').textContent = 'would replay ' + r.replayed + ' record(s)' + (r.forgotten ? '; ' + r.forgotten + ' of forgotten people not replayed' : '');
    $('replay').disabled = r.replayed === 0;
  } catch (e) { $('error').textContent = e.message; }
};
$('replay').onclick = async () => {
  try {
    $('replay').disabled = true;
    const r = await call('/api/replay', { ...filter(), dryRun: false });
    $('replay-result').textContent = 'replayed ' + r.replayed + ' record(s)';
    // The topology takes them as any record: the ledger moves as it commits them, and is read until it has counted them all.
    for (let i = 0; i < 60; i++) {
      const now = (await call('/api/ledger')).total;
      ledgerRow('ledger-after', now);
      if (now.in >= before.in + r.replayed) break;
      await new Promise((r) => setTimeout(r, 1000));
    }
  } catch (e) { $('error').textContent = e.message; }
};
(async () => {
  try {
    about = await call('/api/about');
    $('namespace').textContent = about.namespace;
    for (const s of about.sources) { const o = document.createElement('option'); o.value = s; o.textContent = s; $('source').append(o); }
    ledgerRow('ledger-after', (await call('/api/ledger')).total);
    await load();
  } catch (e) { $('error').textContent = e.message; }
})();
</script>
</body>
</html>
`;
