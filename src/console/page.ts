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
  #chart rect { fill: #5b7bd5; } #chart text { font-size: 10px; fill: #1d2330; }
</style>
</head>
<body>
<h1>Quarantine of <span id="namespace"></span></h1>
<div class="row">
  <label>Source <select id="source"><option value="">any</option></select></label>
  <label>Day <input id="date" placeholder="YYYY-MM-DD" size="11"></label>
  <label>Code <input id="code" placeholder="quality.email_invalid" size="28"></label>
  <label>Event <input id="event" placeholder="Order Completed" size="20"></label>
  <button id="apply">Apply</button>
</div>
<p id="error" role="alert"></p>
<h2>Records by day</h2>
<svg id="chart" role="img" aria-label="quarantined records by day" width="640" height="140"></svg>
<h2>Counts by source, day and code</h2>
<table id="counts"><thead><tr><th>source</th><th>day</th><th>code</th><th>records</th></tr></thead><tbody></tbody></table>
<h2>Records</h2>
<table id="records"><thead><tr><th>ingest id</th><th>source</th><th>day</th><th>event</th><th>codes</th><th>stage</th></tr></thead><tbody></tbody></table>
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
  for (const k of ['source', 'date', 'code', 'event']) if ($(k).value.trim()) f[k] = $(k).value.trim();
  return f;
};
async function call(path, body) {
  const answer = await fetch(path, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const data = await answer.json();
  if (!answer.ok) throw new Error(data.error || answer.status);
  $('error').textContent = '';
  return data;
}
const SVG = 'http://www.w3.org/2000/svg';
/** One bar per day of the filtered quarantine, each day's count over it; a click filters by that day. */
function chart(days) {
  const svg = $('chart'); svg.replaceChildren();
  const max = Math.max(1, ...days.map((d) => d.records));
  const width = Math.max(12, Math.min(60, Math.floor(620 / Math.max(1, days.length))));
  days.forEach((d, i) => {
    const h = Math.round((d.records / max) * 100);
    const bar = document.createElementNS(SVG, 'rect');
    for (const [k, v] of Object.entries({ x: 10 + i * width, y: 110 - h, width: width - 4, height: h, 'data-date': d.date, 'data-records': d.records })) bar.setAttribute(k, v);
    const title = document.createElementNS(SVG, 'title'); title.textContent = d.date + ': ' + d.records; bar.append(title);
    bar.onclick = () => { $('date').value = d.date; load(); };
    const label = document.createElementNS(SVG, 'text');
    label.setAttribute('x', 10 + i * width); label.setAttribute('y', 124); label.textContent = d.date.slice(5);
    const count = document.createElementNS(SVG, 'text');
    count.setAttribute('x', 10 + i * width); count.setAttribute('y', 106 - h); count.textContent = String(d.records);
    svg.append(bar, label, count);
  });
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
    const { counts, days } = await call('/api/counts?' + q);
    chart(days);
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
      for (const v of [r.ingest_id, r.source, r.date, r.event ?? '', r.errors.map((e) => e.code).join(', '), r.stage]) cell(tr, v);
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
