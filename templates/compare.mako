<%inherit file="base.mako"/>
<%def name="title()">Comparison</%def>
<% r = report %>
<h1>${after.method} ${after.path} <small>compared with an earlier session</small></h1>
<dl class="summary">
  <dt>Before</dt><dd><a href="${base}/profiles/${before.uuid}">${before.method} ${before.path}</a>, ${fmt_time(before.timestamp)}: ${fmt_ms(r['duration_before'])}</dd>
  <dt>After</dt><dd><a href="${base}/profiles/${after.uuid}">${after.method} ${after.path}</a>, ${fmt_time(after.timestamp)}: ${fmt_ms(r['duration_after'])}</dd>
  <dt>Change</dt><dd class="${'bad' if r['duration_change'] > 0 else ''}">${'%+.1f' % (r['duration_change'] * 1000)} ms</dd>
</dl>
<p class="exports">Export: <a href="${base}/compare.json?${urlencode({'a': before.uuid, 'b': after.uuid})}">JSON</a></p>
<table class="stats">
<thead><tr><th class="num">own time change</th><th class="num">cumulative change</th><th class="num">calls</th><th></th><th>function</th></tr></thead>
<tbody>
% for row in r['functions'][:300]:
<tr class="${'failed' if row['tottime_change'] > 0 else ''}">
  <td class="num">${'%+.3f' % (row['tottime_change'] * 1000)} ms</td>
  <td class="num">${'%+.3f' % (row['cumtime_change'] * 1000)} ms</td>
  <td class="num">${row['calls_before']} → ${row['calls_after']}</td>
  <td>${'' if row['status'] == 'changed' else row['status']}</td>
  <td class="fn">${row['function']}</td>
</tr>
% endfor
</tbody>
</table>
