"""The one stylesheet: served as /static/style.css by the dashboard (CSP: no inline styles)
and embedded in the standalone HTML report (a single file that opens offline)."""

CSS = """
:root { --ink:#1f2933; --muted:#616e7c; --line:#e4e7eb; --bg:#f5f7fa; --card:#fff;
  --accent:#2f6fed; --neg:#d64545; --neu:#9aa5b1; --pos:#2e9e5b; }
* { box-sizing: border-box; }
body { margin:0; font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
  color:var(--ink); background:var(--bg); }
header.top { display:flex; align-items:center; gap:24px; padding:12px 28px;
  background:#102a43; color:#fff; }
header.top .brand { font-weight:700; font-size:16px; letter-spacing:.3px; }
header.top nav a { color:#d9e2ec; text-decoration:none; margin-right:16px; }
header.top nav a.active, header.top nav a:hover { color:#fff; text-decoration:underline; }
header.top form { margin-left:auto; }
main { padding:20px 28px 40px; max-width:1240px; }
h1 { font-size:20px; margin:4px 0 4px; }
h2 { font-size:15px; margin:0 0 10px; }
p.sub { color:var(--muted); margin:0 0 16px; }
.tiles { display:grid; grid-template-columns:repeat(auto-fit,minmax(150px,1fr)); gap:12px;
  margin-bottom:16px; }
.tile { background:var(--card); border:1px solid var(--line); border-radius:8px;
  padding:12px 14px; }
.tile .v { font-size:22px; font-weight:700; }
.tile .k { color:var(--muted); font-size:12px; text-transform:uppercase; letter-spacing:.4px; }
.grid { display:grid; grid-template-columns:repeat(auto-fit,minmax(560px,1fr)); gap:16px;
  align-items:start; }
.card { background:var(--card); border:1px solid var(--line); border-radius:8px; padding:14px 16px;
  margin-bottom:16px; overflow-x:auto; }
svg { display:block; max-width:100%; height:auto; }
table { border-collapse:collapse; width:100%; }
th, td { text-align:left; padding:6px 8px; border-bottom:1px solid var(--line);
  vertical-align:top; }
th { font-size:12px; color:var(--muted); text-transform:uppercase; letter-spacing:.3px; }
td.num, th.num { text-align:right; font-variant-numeric:tabular-nums; }
td.text { max-width:520px; white-space:pre-wrap; word-break:break-word; }
.neg { color:var(--neg); } .pos { color:var(--pos); } .neu { color:var(--muted); }
.badge { display:inline-block; padding:1px 7px; border-radius:10px; font-size:12px;
  background:#e4e7eb; }
.badge.open { background:#fde2e2; } .badge.waiting_customer { background:#fff3c4; }
.badge.resolved, .badge.closed { background:#d5f5e3; }
form.filters { display:flex; flex-wrap:wrap; gap:10px; align-items:flex-end; margin-bottom:14px; }
form.filters label { display:flex; flex-direction:column; font-size:12px; color:var(--muted); }
input, select, button { font:inherit; padding:5px 8px; border:1px solid #cbd2d9; border-radius:6px;
  background:#fff; }
button { background:var(--accent); color:#fff; border-color:var(--accent); cursor:pointer; }
button.link { background:transparent; border:0; color:#d9e2ec; padding:0;
  text-decoration:underline; }
.pager { display:flex; gap:14px; align-items:center; margin-top:12px; }
.login { max-width:380px; margin:80px auto; }
.login input { width:100%; margin:8px 0 12px; }
.error { color:var(--neg); }
.muted { color:var(--muted); }
dl.facts { display:grid; grid-template-columns:max-content 1fr; gap:4px 16px; margin:0; }
dl.facts dt { color:var(--muted); }
dl.facts dd { margin:0; }
footer { color:var(--muted); font-size:12px; margin-top:24px; }
"""
