"""Style sheets of the meeting maps (``MAP_CSS``) and of the index page (``INDEX_CSS``),
inlined in each page so that it opens offline."""

from __future__ import annotations

__all__ = ["INDEX_CSS", "MAP_CSS"]

MAP_CSS = """
.vigie-header{position:fixed;top:0;left:0;right:0;height:40px;box-sizing:border-box;z-index:1000;
 background:#fff;font:15px/1.3 system-ui,sans-serif;padding:8px 12px;border-bottom:1px solid #999;
 white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.vigie-header h1{font-size:18px;margin:0;display:inline}
.vigie-header a{margin-left:12px;font-size:13px}
.vigie-badge{background:#b00020;color:#fff;border-radius:4px;padding:2px 8px;margin-left:10px;
 font-weight:bold;text-transform:uppercase;font-size:13px}
.vigie-footer{position:fixed;bottom:0;left:0;right:0;height:26px;box-sizing:border-box;z-index:1000;
 background:#fff;font:12px system-ui,sans-serif;padding:5px 12px;border-top:1px solid #999;
 white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
.folium-map{position:absolute !important;top:40px !important;bottom:26px !important;
 height:auto !important;width:100% !important;background:#f2efe9}
.vigie-legend,.vigie-period{background:#fff;padding:7px 9px;font:13px/1.4 system-ui,sans-serif;
 border:1px solid #999;border-radius:4px;max-width:270px}
.vigie-legend{max-height:46vh;overflow-y:auto}
.vigie-legend h3{font-size:14px;margin:0 0 4px}
.vigie-legend h4{font-size:13px;margin:8px 0 2px}
.vigie-legend p{margin:3px 0;color:#333;font-size:12px}
.vigie-legend .note{color:#555;font-style:italic}
.vigie-legend .row{display:flex;align-items:flex-start}
.vigie-legend .row span:first-of-type{flex:1}
.vigie-legend .row .n{color:#555;padding-left:8px;font-variant-numeric:tabular-nums}
.vigie-legend .row i{flex:none;margin-top:2px}
.vigie-legend .bm .sw{white-space:nowrap}
.vigie-legend .bm i{width:12px;height:12px;margin:0 3px 0 6px}
.vigie-legend i,.vigie-layers-dot{display:inline-block;width:14px;height:14px;margin-right:6px;
 vertical-align:middle;border:1px solid #666;box-sizing:border-box}
.vigie-legend i.line{height:0;border-width:3px 0 0 0}
.vigie-legend i.dash{height:0;border:0;border-top:2px dashed #333}
.vigie-legend i.round,.vigie-layers-dot{border-radius:50%}
.vigie-legend i.diamond{transform:rotate(45deg) scale(.8);border:2px solid #111}
.vigie-legend i.hatch{background:repeating-linear-gradient(45deg,#bbb 0 2px,#fff 2px 5px)}
.vigie-period label{font-weight:bold;display:block;margin-bottom:3px}
.vigie-period select{font-size:13px;max-width:100px}
.vigie-period button{font-size:12px;margin-top:4px}
.vigie-obs span{display:block;width:10px;height:10px;transform:rotate(45deg);border:2px solid #111;
 margin:1px}
.vigie-cluster div{border-radius:50%;color:#fff;font:bold 12px/30px system-ui,sans-serif;
 text-align:center;width:30px;height:30px;border:2px solid #fff;box-shadow:0 0 3px #333;
 text-shadow:0 0 2px #000}
.leaflet-control-layers{font:12.5px/1.25 system-ui,sans-serif;max-height:62vh;overflow-y:auto}
.leaflet-control-layers label{margin:1px 0}
.vigie-cats summary{cursor:pointer;margin:2px 0;font-weight:bold}
.vigie-cats label{padding-left:12px}
.leaflet-control-layers-base::before{content:"Colorer les bâtiments selon :";font-weight:bold}
.leaflet-control-layers-overlays::before{content:"Couches :";font-weight:bold}
.fiche{font:13px/1.4 system-ui,sans-serif;min-width:220px}
.fiche h4{margin:0 0 4px;font-size:15px}
.fiche table{border-collapse:collapse;margin:4px 0}
.fiche th{text-align:left;font-weight:normal;color:#555;padding:1px 8px 1px 0;vertical-align:top}
.fiche td{padding:1px 4px}
.fiche table.cats td{border-bottom:1px solid #eee}
.fiche table.cats td+td{text-align:right;font-weight:bold}
.fiche .osm{color:#888;font-size:11px;margin:4px 0 0}
.fiche .chron{margin:4px 0;color:#222}
.fiche .chron ul{margin:2px 0;padding-left:18px}
.fiche .notes{margin:6px 0 2px;border-top:1px solid #ddd;padding-top:4px}
.fiche .notes ul{margin:2px 0;padding-left:16px;max-height:160px;overflow-y:auto}
.fiche .notes li{margin:2px 0}
.fiche .notes .meta{color:#555;font-size:12px}
.vigie-fiche-note-text{white-space:pre-wrap;overflow-wrap:anywhere}
.spark{display:grid;grid-template-columns:auto auto auto;justify-content:space-between;
 font-size:10px;color:#666;width:156px;margin:4px 0}
.spark svg{grid-column:1/4;fill:#bd0026;background:#fafafa;border-bottom:1px solid #999}
.vigie-popup-report{font:13px/1.4 system-ui,sans-serif}
@media print{.leaflet-control-layers,.vigie-period,.leaflet-control-zoom{display:none}}
"""

INDEX_CSS = """
body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#222}
header,footer,main{max-width:64em;margin:0 auto;padding:0 1.5em}
header{border-bottom:2px solid #333;padding-top:1em}
header h1{margin:0 0 .2em}
header p{margin:0 0 1em;color:#444}
table{border-collapse:collapse;width:100%;margin:1em 0}
td,th{padding:6px 8px;border-bottom:1px solid #ccc;vertical-align:top}
th{text-align:left;background:#f3f3f3}
.n{text-align:right;font-variant-numeric:tabular-nums}
.trend{font-size:20px;font-weight:bold}
.up{color:#b2182b}.down{color:#2166ac}.flat{color:#555}
.badge{background:#b00020;color:#fff;border-radius:4px;padding:1px 6px;font-size:12px;
 text-transform:uppercase;font-weight:bold;white-space:nowrap}
section.site{border:1px solid #ccc;border-radius:6px;padding:.5em 1em;margin:1em 0;
 break-inside:avoid}
section.site h2{font-size:18px;margin:.3em 0}
section.site ul{margin:.3em 0 .6em;padding-left:1.2em}
img.apercu{max-width:min(100%,760px);border:1px solid #ccc}
section.site h3{font-size:16px;margin:.8em 0 .2em}
table.vigie-notes{font-size:13px;margin:.4em 0}
table.vigie-notes td:last-child{white-space:pre-wrap;overflow-wrap:anywhere}
.orpheline{background:#666;color:#fff;border-radius:4px;padding:0 5px;font-size:12px;
 white-space:nowrap}
footer{margin-top:2em;padding-bottom:2em;font-size:12px;color:#555;border-top:1px solid #ccc}
@media print{
 body{font-size:11pt}
 a{color:#000;text-decoration:none}
 a[href$='.html']::after{content:" (" attr(href) ")";font-size:9pt;color:#555}
 section.site{page-break-inside:avoid}
 .badge{border:1px solid #000;color:#000;background:#fff}
}
"""
