// The element's stylesheet: system colours with contrast of at least 4.5:1, a visible focus ring,
// and a single column below 1000px so nothing overflows sideways at 800×600.
export const STYLE = `
:host { display: block; box-sizing: border-box; font: 14px/1.45 system-ui, sans-serif; color: #1b1b1f; background: #fff; max-width: 100%; overflow-wrap: anywhere; }
:host([data-dragging]) { outline: 3px dashed #0b57d0; outline-offset: -3px; }
*, *::before, *::after { box-sizing: inherit; }
h1 { font-size: 1.15rem; margin: 0 0 .4rem; }
h2 { font-size: 1rem; margin: .8rem 0 .3rem; }
header { padding: .6rem .8rem; border-bottom: 1px solid #c4c7c5; }
.open { display: flex; flex-wrap: wrap; gap: .5rem; align-items: center; }
.registry { display: flex; flex-wrap: wrap; gap: .4rem; align-items: center; flex: 1 1 22rem; min-width: 0; }
.registry input[type=text], .registry input[type=password] { flex: 1 1 10rem; min-width: 0; }
input, button, .button { font: inherit; color: inherit; }
input[type=text], input[type=password], input[type=search] { padding: .3rem .45rem; border: 1px solid #747775; border-radius: 4px; background: #fff; }
button, .button { padding: .3rem .75rem; border: 1px solid #0b57d0; border-radius: 4px; background: #0b57d0; color: #fff; cursor: pointer; display: inline-block; }
button:disabled { background: #e3e3e3; border-color: #c4c7c5; color: #5f6368; cursor: default; }
button[type=button]:not(:disabled) { background: #fff; color: #0b57d0; }
:focus-visible, .button:focus-within { outline: 3px solid #0b57d0; outline-offset: 2px; }
.visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.check { display: inline-flex; gap: .25rem; align-items: center; }
.status-line { display: flex; gap: .6rem; align-items: center; margin-top: .4rem; min-height: 1.5rem; flex-wrap: wrap; }
#status.error { color: #a50e0e; font-weight: 600; }
progress { flex: 0 1 12rem; }
main { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: .8rem; padding: .8rem; }
@media (max-width: 1000px) { main { grid-template-columns: minmax(0, 1fr); } }
section { min-width: 0; }
.tree-bar { display: flex; gap: .4rem; flex-wrap: wrap; }
.tree-bar input { flex: 1 1 8rem; min-width: 0; }
.stats { margin: .4rem 0; color: #444746; }
.muted { color: #5f6368; }
.tree { position: relative; height: min(60vh, 34rem); min-height: 12rem; overflow: auto; border: 1px solid #747775; border-radius: 4px; }
.tree:focus-visible { outline: 3px solid #0b57d0; outline-offset: 1px; }
.spacer { position: relative; min-width: 100%; }
.row { position: absolute; left: 0; right: 0; height: 26px; display: flex; align-items: center; gap: .35rem; padding-right: .5rem; white-space: nowrap; cursor: default; }
.row:hover { background: #f0f4f9; }
.row.active { background: #d3e3fd; }
.tree:focus .row.active { outline: 2px solid #0b57d0; outline-offset: -2px; }
.toggle { width: 1rem; flex: none; text-align: center; color: #444746; }
.name { overflow: hidden; text-overflow: ellipsis; min-width: 0; flex: 0 1 auto; }
.size { margin-left: auto; flex: none; color: #444746; font-variant-numeric: tabular-nums; padding-left: .5rem; }
.badge { flex: none; font-size: .75rem; padding: 0 .35rem; border-radius: 3px; background: #e8eaed; color: #1b1b1f; }
.badge.whiteout { background: #fff0d6; color: #6b3d00; }
.badge.failure { background: #a50e0e; color: #fff; }
.badge.dedup { background: #dff1e3; color: #0d5224; }
.row.deleted .name { text-decoration: line-through; color: #6b3d00; }
.row.failed { background: #fce8e6; }
.row.failed.active { background: #f6c7c2; }
.row.failed .name { color: #a50e0e; font-weight: 600; }
details { border: 1px solid #c4c7c5; border-radius: 4px; padding: .3rem .6rem; margin-bottom: .6rem; min-width: 0; }
summary { font-weight: 600; cursor: pointer; }
dl { display: grid; grid-template-columns: max-content minmax(0, 1fr); gap: .15rem .8rem; margin: .4rem 0; }
dt { color: #444746; }
dd { margin: 0; overflow-wrap: anywhere; }
.table-wrap { max-width: 100%; overflow-x: auto; }
table { border-collapse: collapse; margin: .4rem 0; font-size: .85rem; }
caption { text-align: left; font-weight: 600; }
th, td { border-bottom: 1px solid #e3e3e3; padding: .15rem .5rem; text-align: left; white-space: nowrap; }
pre { margin: .3rem 0; padding: .5rem; background: #f8f9fa; border: 1px solid #e3e3e3; border-radius: 4px; max-height: 22rem; overflow: auto; white-space: pre-wrap; overflow-wrap: anywhere; font: 12px/1.4 ui-monospace, monospace; }
.failure { color: #a50e0e; }
.ok { color: #0d5224; font-weight: 600; }
.whiteout { color: #6b3d00; }
ul.failures { padding-left: 1.2rem; max-height: 14rem; overflow: auto; }
`;
