<%inherit file="base.mako"/>
<%def name="title()">Endpoints</%def>
<%def name="head()">
<link rel="stylesheet" href="${base}/static/vendor/uplot/uPlot.min.css">
<script src="${base}/static/vendor/uplot/uPlot.iife.min.js"></script>
<script type="module" src="${base}/static/endpoints.js"></script>
</%def>
<h1>Endpoints <small>requests grouped by method and path, numbers and ids folded</small></h1>
% if damaged:
<p class="note damaged-note" role="status">${"{:,}".format(damaged)} damaged row${'' if damaged == 1 else 's'} left out of these figures: what the store holds for ${'it' if damaged == 1 else 'them'} is not what linesman writes. The list of sessions shows ${'it' if damaged == 1 else 'them'} and why.</p>
% endif
% if not endpoints:
<p class="empty">No profiled requests yet.</p>
% else:
<p class="hint">
% if pages > 1:
Endpoints ${"{:,}".format(first)}–${"{:,}".format(first + len(endpoints) - 1)} of ${"{:,}".format(total)}, slowest (95th percentile) first.
% else:
Slowest (95th percentile) first.
% endif
% if span:
Every chart runs from <time datetime="${fmt_iso(span[0])}">${fmt_time(span[0])}</time> to <time datetime="${fmt_iso(span[1])}">${fmt_time(span[1])}</time>.
% endif
</p>
<div class="table-scroll" tabindex="0" role="region" aria-label="Endpoints (scrolls sideways)">
<table class="endpoints">
<caption class="visually-hidden">Endpoints, slowest first</caption>
<thead><tr>
  <th scope="col">Endpoint</th>
  <th scope="col" class="trend-head">Over time
    <span class="key"><span class="swatch-line p95"></span>95th pct <span class="swatch-line median"></span>median <span class="swatch-bar"></span>requests</span>
    <span class="key">scale: 0 to the highest, in ms; point at a chart for its figures</span></th>
  <th scope="col" class="num">Sessions</th><th scope="col" class="num">Median</th>
  <th scope="col" class="num">95th percentile</th><th scope="col" class="num">Slowest</th>
  <th scope="col" class="num" title="requests answered with a 4xx status">4xx</th>
  <th scope="col" class="num" title="requests answered with a 5xx status, or where the app raised">5xx</th>
  <th scope="col"><span class="visually-hidden">Links</span></th>
</tr></thead>
<tbody>
% for index, e in enumerate(endpoints):
<tr>
  <th scope="row" class="path">${e.endpoint}</th>
  <td class="trend"><div class="trend-box"><div class="trend-chart" data-chart="${index}" role="img"
      aria-label="${e.endpoint}: median ${fmt_ms(e.median)}, 95th percentile ${fmt_ms(e.p95)} over ${e.count} request${'' if e.count == 1 else 's'}"></div></div></td>
  <td class="num">${e.count}</td>
  <td class="num">${fmt_ms(e.median)}</td>
  <td class="num">${fmt_ms(e.p95)}</td>
  <td class="num">${fmt_ms(e.slowest)}</td>
  <td class="num ${'warn' if e.client_errors else ''}">${e.client_errors or ''}</td>
  <td class="num ${'bad' if e.errors else ''}">${e.errors or ''}</td>
  <td class="links"><a href="${base}/endpoints/merged?${urlencode({'endpoint': e.endpoint})}">merged profile</a> ·
      <a href="${base}/?${urlencode({'path': e.endpoint.split(' ', 1)[1].split('?')[0].split('{id}')[0], 'method': e.endpoint.split(' ', 1)[0], 'sort': 'duration'})}">slowest sessions</a></td>
</tr>
% endfor
</tbody>
</table>
</div>
<script type="application/json" id="endpoint-charts">${charts | n}</script>
% if pages > 1:
<nav class="pager">
  % if page > 1:
  <a href="${base}/endpoints?${urlencode({'page': page - 1})}" rel="prev">← Slower</a>
  % endif
  <span>Page ${page} of ${pages}</span>
  % if page < pages:
  <a href="${base}/endpoints?${urlencode({'page': page + 1})}" rel="next">Faster →</a>
  % endif
</nav>
% endif
% endif
