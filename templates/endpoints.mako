<%inherit file="base.mako"/>
<%def name="title()">Endpoints</%def>
<h1>Endpoints <small>requests grouped by method and path, numbers and ids folded</small></h1>
% if not endpoints:
<p class="empty">No profiled requests yet.</p>
% else:
<table class="endpoints">
% if pages > 1:
<caption>Endpoints ${"{:,}".format(first)}–${"{:,}".format(first + len(endpoints) - 1)} of ${"{:,}".format(total)}, slowest (95th percentile) first</caption>
% endif
<thead><tr><th>Endpoint</th><th class="num">Sessions</th><th class="num">Median</th><th class="num">95th percentile</th><th class="num">Slowest</th><th class="num">Errors</th><th></th></tr></thead>
<tbody>
% for e in endpoints:
<tr>
  <td class="path">${e.endpoint}</td>
  <td class="num">${e.count}</td>
  <td class="num">${fmt_ms(e.median)}</td>
  <td class="num">${fmt_ms(e.p95)}</td>
  <td class="num">${fmt_ms(e.slowest)}</td>
  <td class="num">${e.errors or ''}</td>
  <td><a href="${base}/endpoints/merged?${urlencode({'endpoint': e.endpoint})}">merged profile</a> ·
      <a href="${base}/?${urlencode({'path': e.endpoint.split(' ', 1)[1].split('{id}')[0], 'method': e.endpoint.split(' ', 1)[0], 'sort': 'duration'})}">slowest sessions</a></td>
</tr>
% endfor
</tbody>
</table>
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
